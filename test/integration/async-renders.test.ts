// Asynchronous renders (issue 6) on the real stack, through nginx: Prefer: respond-async and POST /renders
// answer 202 at once; GET /renders/{id} follows queued → rendering (ffmpeg's percent) → done; the events
// stream arrives event by event through nginx and ends with the render; failures and bad asks are problems.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMp3 } from '../helpers/mp3-frames.js';
import { eventually, getBytes, startTestStack, type TestStack } from '../helpers/test-stack.js';

let t: TestStack;
beforeAll(async () => {
  // One worker, so a second render waits in the queue behind the first.
  t = await startTestStack({ WORKERS: '1' }, { longSource: 'long/hour' });
});
afterAll(async () => {
  await t?.stop();
});

interface Status {
  id: string;
  status: 'queued' | 'rendering' | 'done' | 'failed';
  percent?: number;
  segment?: string;
  problem?: { type: string; title: string; status: number; detail: string };
}

async function postRender(body: unknown, base = t.url) {
  const response = await fetch(`${base}/renders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { response, body: (await response.json()) as Status & { detail?: string; status: unknown } };
}

async function status(location: string, base = t.url): Promise<Status> {
  const response = await fetch(base + location);
  expect(response.status).toBe(200);
  return (await response.json()) as Status;
}

/** Reads an events stream as it arrives: each `data:` line parsed, with the time it came. */
function openEvents(url: string) {
  const events: { at: number; status: Status }[] = [];
  const waiting: Array<() => void> = [];
  let ended = false;
  let buffered = '';
  const wake = () => {
    for (const resolve of waiting.splice(0)) resolve();
  };
  const headers = new Promise<http.IncomingMessage>((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      resolve(response);
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (data) events.push({ at: Date.now(), status: JSON.parse(data.slice('data: '.length)) as Status });
        }
        wake();
      });
      response.on('end', () => {
        ended = true;
        wake();
      });
    });
    request.on('error', reject);
  });
  return {
    headers,
    events,
    /** Resolves once `count` events have arrived, or the stream ended. */
    async upTo(count: number) {
      while (events.length < count && !ended) await new Promise<void>((resolve) => waiting.push(resolve));
    },
    get ended() {
      return ended;
    },
  };
}

const LOCATION = /^\/renders\/[0-9a-f]{32}$/;

describe('POST /renders', () => {
  it('answers 202 at once with Location and a queued status; the render ends done with its canonical segment URL', async () => {
    const { response, body } = await postRender({ source: 'demo/tones', start: 10, end: '20.50', mode: 'exact', bitrate: 64 });
    expect(response.status).toBe(202);
    const location = response.headers.get('location')!;
    expect(location).toMatch(LOCATION);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(body).toEqual({ id: location.slice('/renders/'.length), status: 'queued' });

    const done = await eventually(async () => {
      const now = await status(location);
      return now.status === 'done' ? now : undefined;
    }, 'the render to be done');
    expect(done.segment).toBe('/segments/demo/tones/10-20.5.mp3?mode=exact&bitrate=64');
    const { response: audio, body: bytes } = await getBytes(t.url + done.segment);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('etag')).toBe(`"${done.id}"`);
    expect(Math.abs(readMp3(bytes).durationSeconds - 10.5)).toBeLessThanOrEqual(0.001);
  });

  it('answers 202 with status done at once for a render already stored; download carries to the segment URL', async () => {
    const first = await postRender({ source: 'demo/tones', start: 1, end: 2 });
    const location = first.response.headers.get('location')!;
    await eventually(async () => ((await status(location)).status === 'done' ? true : undefined), 'the render to be done');
    const again = await postRender({ source: 'demo/tones', start: '1.000', end: 2, download: true });
    expect(again.response.status).toBe(202);
    expect(again.response.headers.get('location')).toBe(`${location}?download=1`);
    expect(again.body).toEqual({ id: first.body.id, status: 'done', segment: '/segments/demo/tones/1-2.mp3?download=1' });
    expect((await status(location)).segment).toBe('/segments/demo/tones/1-2.mp3');
  });
});

describe('a segment URL with Prefer: respond-async', () => {
  const url = '/segments/demo/chirp/5-15.mp3';

  it('answers 202 with Location, never from or into the nginx cache, and the render ends done', async () => {
    const asked = await fetch(t.url + url, { headers: { prefer: 'respond-async, wait=10' } });
    expect(asked.status).toBe(202);
    expect(asked.headers.get('preference-applied')).toBe('respond-async');
    expect(asked.headers.get('cache-control')).toBe('no-store');
    expect(asked.headers.get('x-cache-status')).toBe('BYPASS');
    const location = asked.headers.get('location')!;
    expect(location).toMatch(LOCATION);
    expect(((await asked.json()) as Status).status).toMatch(/^(queued|rendering)$/);
    const done = await eventually(async () => {
      const now = await status(location);
      return now.status === 'done' ? now : undefined;
    }, 'the render to be done');
    expect(done.segment).toBe(url);

    // The 202 was not cached: a plain request gets the bytes (an nginx MISS, then a HIT).
    const plain = await getBytes(t.url + url);
    expect(plain.response.status).toBe(200);
    expect(plain.response.headers.get('x-cache-status')).toBe('MISS');
    expect((await getBytes(t.url + url)).response.headers.get('x-cache-status')).toBe('HIT');
    // ...and with the bytes cached, an async ask still gets its 202 (done), not the cached bytes.
    const later = await fetch(t.url + url, { headers: { prefer: 'respond-async' } });
    expect(later.status).toBe(202);
    expect(later.headers.get('x-cache-status')).toBe('BYPASS');
    expect(await later.json()).toEqual({ id: done.id, status: 'done', segment: url });
  });

  it('a non-canonical spelling is still redirected first', async () => {
    const response = await fetch(`${t.url}/segments/demo/chirp/05-15.0.mp3`, { headers: { prefer: 'respond-async' }, redirect: 'manual' });
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe(url);
  });
});

describe('a long exact render followed by its status and its events stream through nginx', () => {
  it('goes queued → rendering with a rising percent from ffmpeg → done, and the stream arrives event by event', async () => {
    // The first render holds the only worker, so the second is queued behind it.
    const first = await postRender({ source: 'long/hour', start: 0, end: 300, mode: 'exact' });
    expect(first.response.status).toBe(202);
    const second = await postRender({ source: 'long/hour', start: 300, end: 600, mode: 'exact' });
    expect(second.response.status).toBe(202);
    const location = second.response.headers.get('location')!;

    const stream = openEvents(`${t.url}${location}/events`);
    const response = await stream.headers;
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(response.headers['x-cache-status']).toBe('BYPASS');

    // Polled beside the stream: the statuses GET /renders/{id} gives along the way.
    const polled: Status[] = [];
    const polling = eventually(
      async () => {
        const now = await status(location);
        if (polled.at(-1)?.status !== now.status || polled.at(-1)?.percent !== now.percent) polled.push(now);
        return now.status === 'done' ? true : undefined;
      },
      'the second render to be done (polled)',
      120_000,
    );

    // The first event arrives while the render has not ended: nginx does not hold the stream back.
    await stream.upTo(1);
    expect(stream.events[0]!.status.status).toMatch(/^(queued|rendering)$/);
    expect((await status(location)).status).not.toBe('done');

    await polling;
    await eventually(async () => (stream.ended ? true : undefined), 'the stream to end', 10_000);
    const statuses = stream.events.map((event) => event.status);
    const last = statuses.at(-1)!;
    expect(last).toEqual({ id: second.body.id, status: 'done', segment: '/segments/long/hour/300-600.mp3?mode=exact' });
    // Events came one by one over the render's time, not in one burst at the end.
    expect(stream.events.at(-1)!.at - stream.events[0]!.at).toBeGreaterThan(1_000);
    expect(statuses[0]!.status).toBe('queued');
    const percents = statuses.filter((s) => s.status === 'rendering' && s.percent !== undefined).map((s) => s.percent!);
    expect(percents.length).toBeGreaterThanOrEqual(3);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(new Set(percents).size).toBe(percents.length);
    expect(percents.at(-1)!).toBeLessThan(100);

    // The polled statuses went the same way: queued, then rendering with a rising percent, then done.
    const order = ['queued', 'rendering', 'done'];
    const seen = polled.map((s) => order.indexOf(s.status));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(polled.map((s) => s.status)).toEqual(expect.arrayContaining(['queued', 'rendering', 'done']));
    const polledPercents = polled.filter((s) => s.percent !== undefined).map((s) => s.percent!);
    expect(polledPercents.length).toBeGreaterThanOrEqual(2);
    expect(polledPercents).toEqual([...polledPercents].sort((a, b) => a - b));

    expect((await status(first.response.headers.get('location')!)).status).toBe('done');
  }, 150_000);

  it('a stream opened on a finished render sends its status once and ends', async () => {
    const { body } = await postRender({ source: 'long/hour', start: 300, end: 600, mode: 'exact' });
    const stream = openEvents(`${t.url}/renders/${body.id}/events`);
    await eventually(async () => (stream.ended ? true : undefined), 'the stream to end');
    expect(stream.events.map((event) => event.status.status)).toEqual(['done']);
  });
});

describe('a render that fails', () => {
  it('of a source that probes as MP3 but cannot be cut: status failed with the 422 problem, also on its stream', async () => {
    const { response, body } = await postRender({ source: 'bad/damaged', start: 30, end: 40 });
    expect(response.status).toBe(202);
    const location = response.headers.get('location')!;
    const stream = openEvents(`${t.url}${location}/events`);
    const failed = await eventually(async () => {
      const now = await status(location);
      return now.status === 'failed' ? now : undefined;
    }, 'the render to fail');
    expect(failed).toEqual({
      id: body.id,
      status: 'failed',
      problem: {
        type: 'urn:mp3-segments:problem:unprocessable',
        title: 'Cannot render this segment',
        status: 422,
        detail: expect.stringMatching(/damaged/),
      },
    });
    await eventually(async () => (stream.ended ? true : undefined), 'the stream to end');
    expect(stream.events.at(-1)!.status).toEqual(failed);
  });

  it('of a source that is not MP3 at all is refused at once with 422, without a render id', async () => {
    const { response, body } = await postRender({ source: 'bad/not-audio', start: 0, end: 1 });
    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('location')).toBeNull();
    expect(body.detail).toMatch(/MP3|decod/i);
  });
});

describe('bad ids and bodies are problems', () => {
  async function problem(response: Response) {
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return (await response.json()) as { status: number; detail: string; type: string };
  }

  it('a malformed id is 400, an id never seen is 404, for the status and the stream', async () => {
    for (const path of ['/renders/xyz', '/renders/ABCDEF0123456789ABCDEF0123456789/events', `/renders/${'0'.repeat(31)}`]) {
      const response = await fetch(t.url + path);
      expect(response.status, path).toBe(400);
      expect((await problem(response)).detail).toMatch(/render id/);
    }
    for (const path of [`/renders/${'0'.repeat(32)}`, `/renders/${'0'.repeat(32)}/events`]) {
      const response = await fetch(t.url + path);
      expect(response.status, path).toBe(404);
      const body = await problem(response);
      expect(body.detail).toMatch(/No render/);
      expect(body.type).toBe('urn:mp3-segments:problem:render-not-found');
    }
    expect((await fetch(`${t.url}/renders/${'0'.repeat(32)}?page=2`)).status).toBe(400);
  });

  it.each([
    [{ source: 'demo/tones', start: 1 }, 400, /Missing field 'end'/],
    [{ source: 'demo/tones', start: 1, end: 2, colour: 'red' }, 400, /Unknown field 'colour'/],
    [{ source: 'demo/tones', start: 5, end: 2 }, 400, /greater than 'start'/],
    [{ source: 'demo/tones', start: -1, end: 2 }, 400, /Field 'start'/],
    [{ source: 'demo/tones', start: '1.2345', end: 2 }, 400, /three fraction digits/],
    [{ source: 'demo/tones', start: 1, end: 2, bitrate: 64 }, 400, /mode=exact/],
    [{ source: 'demo/tones', start: 1, end: 2, mode: 'fast' }, 400, /Field 'mode'/],
    [{ source: '../etc/passwd', start: 1, end: 2 }, 400, /'\.\.'/],
    [{ source: 'demo/no-such', start: 1, end: 2 }, 404, /no-such/],
    [{ source: 'demo/tones', start: 100, end: 200 }, 422, /past the end/],
    [[1, 2], 400, /JSON object/],
  ])('POST %j → %i', async (body, expected, detail) => {
    const response = await fetch(`${t.url}/renders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(expected);
    expect((await problem(response)).detail).toMatch(detail);
  });

  it('a body that is not JSON is 400', async () => {
    const response = await fetch(`${t.url}/renders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"source":',
    });
    expect(response.status).toBe(400);
    await problem(response);
  });
});
