// The main path through the nginx front and straight at the API, on the real stack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RENDERER_VERSION } from '../../src/render/render-spec.js';
import { answeredOutcomes, outcomesSince, segmentOutcomes } from '../helpers/metrics.js';
import { readMp3, type Mp3Summary } from '../helpers/mp3-frames.js';
import { checkSegment } from '../helpers/segment-oracle.js';
import { getBytes, rawGet, rendersTotal, startExtraApi, startTestStack, type TestStack } from '../helpers/test-stack.js';

let t: TestStack;
const sourceMp3 = async (name: string): Promise<Mp3Summary> =>
  readMp3(await readFile(path.join(t.config.mediaRoot, `${name}.mp3`)), { strict: false });
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

describe('a segment through the nginx front', () => {
  const path = '/segments/demo/tones/10-20.mp3';

  it('a miss renders and answers 200 audio/mpeg whose duration matches the ask', async () => {
    const before = await rendersTotal(t.apiUrl);
    const { response, body } = await getBytes(t.url + path);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/mpeg');
    expect(response.headers.get('x-cache-status')).toBe('MISS');
    expect(Number(response.headers.get('content-length'))).toBe(body.length);
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(response.headers.get('content-disposition')).toBe(`inline; filename="tones_10-20.mp3"; filename*=UTF-8''tones_10-20.mp3`);
    const mp3 = readMp3(body);
    expect(mp3.sampleRate).toBe(44100);
    expect(mp3.channels).toBe(2);
    // Copy mode: exactly the source's own samples from 10 s to 20 s, as a gapless decoder plays them.
    expect(response.headers.get('x-cut')).toBe('sample');
    const verdict = await checkSegment(await sourceMp3('demo/tones'), body, { start: 10, end: 20, mode: 'copy' }, t.config.dataDir);
    expect(verdict.sample?.samples).toBe(441_000);
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
  });

  it('the second request is an nginx HIT with the same bytes', async () => {
    const first = await getBytes(t.url + path);
    const second = await getBytes(t.url + path);
    expect(second.response.headers.get('x-cache-status')).toBe('HIT');
    expect(second.body.equals(first.body)).toBe(true);
  });

  it('a rendered segment asked of the API again comes from its memory copy, with the same bytes', async () => {
    const fromStore = await getBytes(`${t.apiUrl}/segments/demo/tones/30-32.mp3`);
    const before = await segmentOutcomes(t.apiUrl, 'memory_hit');
    const fromMemory = await getBytes(`${t.apiUrl}/segments/demo/tones/30-32.mp3`);
    expect(fromMemory.response.status).toBe(200);
    expect(fromMemory.body.equals(fromStore.body)).toBe(true);
    expect(await segmentOutcomes(t.apiUrl, 'memory_hit')).toBe(before + 1);
  });

  it('a Range request gives the same bytes as that slice of the full body (nginx and API)', async () => {
    const full = (await getBytes(t.url + path)).body;
    for (const base of [t.url, t.apiUrl]) {
      const { response, body } = await getBytes(base + path, { headers: { range: 'bytes=100-999' } });
      expect(response.status).toBe(206);
      expect(response.headers.get('content-range')).toBe(`bytes 100-999/${full.length}`);
      expect(body.equals(full.subarray(100, 1000))).toBe(true);
      const tail = await getBytes(base + path, { headers: { range: 'bytes=-500' } });
      expect(tail.response.status).toBe(206);
      expect(tail.body.equals(full.subarray(full.length - 500))).toBe(true);
    }
  });

  it('HEAD answers the headers of GET without a body', async () => {
    const full = (await getBytes(t.url + path)).body;
    for (const base of [t.url, t.apiUrl]) {
      const { response, body } = await getBytes(base + path, { method: 'HEAD' });
      expect(response.status).toBe(200);
      expect(Number(response.headers.get('content-length'))).toBe(full.length);
      expect(response.headers.get('content-type')).toBe('audio/mpeg');
      expect(body.length).toBe(0);
    }
  });

  it('a matching If-None-Match answers 304 (nginx and API)', async () => {
    const etag = (await getBytes(t.url + path)).response.headers.get('etag') ?? '';
    for (const base of [t.url, t.apiUrl]) {
      const { response, body } = await getBytes(base + path, { headers: { 'if-none-match': etag } });
      expect(response.status).toBe(304);
      expect(body.length).toBe(0);
    }
    const other = await getBytes(t.apiUrl + path, { headers: { 'if-none-match': '"something-else"' } });
    expect(other.response.status).toBe(200);
  });

  it('download=1 makes the answer an attachment', async () => {
    const { response } = await getBytes(`${t.url}${path}?download=1`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="tones_10-20.mp3"/);
  });

  it('an end past the source end is the rest of the source', async () => {
    const sourceSeconds: number = (await (await fetch(`${t.url}/sources/demo/chirp`)).json()).durationSeconds;
    const { response, body } = await getBytes(`${t.url}/segments/demo/chirp/25-999.mp3`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toContain(`chirp_25-${sourceSeconds}.mp3`);
    expect(sourceSeconds).toBe(30); // the gapless length: 30 s were encoded
    // The source's last 5 s, to its last sample (48 kHz).
    const verdict = await checkSegment(await sourceMp3('demo/chirp'), body, { start: 25, end: 999, mode: 'copy' }, t.config.dataDir);
    expect(verdict.sample?.samples).toBe(5 * 48_000);
  });
});

describe('a segment shorter than one frame', () => {
  it('plays exactly the asked samples in copy mode (1 ms: 44 samples at 44.1 kHz), and in exact mode', async () => {
    const copy = await getBytes(`${t.url}/segments/demo/tones/50-50.001.mp3`);
    expect(copy.response.status).toBe(200);
    expect(copy.response.headers.get('x-cut')).toBe('sample');
    const verdict = await checkSegment(
      await sourceMp3('demo/tones'),
      copy.body,
      { start: 50, end: 50.001, mode: 'copy' },
      t.config.dataDir,
    );
    expect(verdict.sample?.samples).toBe(44);
    const exact = await getBytes(`${t.url}/segments/demo/tones/50-50.001.mp3?mode=exact`);
    expect(exact.response.status).toBe(200);
    expect(readMp3(exact.body).audioFrames.length).toBeGreaterThanOrEqual(1);
  });
});

describe('a damaged source', () => {
  it('that probes as MP3 but cannot be cut fails its render for good: 422, nothing stored', async () => {
    const before = await rendersTotal(t.apiUrl);
    const { response, body } = await getBytes(`${t.url}/segments/bad/damaged/30-40.mp3`);
    expect(response.status).toBe(422);
    expect(JSON.parse(body.toString()).detail).toMatch(/could not|not readable|damaged/);
    expect(await rendersTotal(t.apiUrl)).toBe(before);
  });
});

describe('the renderer version names the bytes', () => {
  // Recorded from renders that pass every oracle. A change of the renderer that alters these bytes must
  // bump RENDERER_VERSION (src/media/render-args.ts), so stores and caches never serve old bytes under a
  // key that now means new ones; then record the new hashes here for the new version.
  const recorded: Record<number, Record<string, string>> = {
    2: {
      '/segments/demo/talk/12.5-17.25.mp3': '5af3283ea393b84c3dd735c9384e7b652d105a842f0cc9937fd59e8dff28be96',
      '/segments/demo/talk/12.5-17.25.mp3?mode=exact&bitrate=64&fade_in=0.5':
        '725f8786fc86fa609e9c2a4617bf36bf171db568ff3da160da642f61a84ed631',
    },
    // 3 cuts copies by byte offset: a CBR source without replay gain keeps its bytes (VBR info frames change).
    3: {
      '/segments/demo/talk/12.5-17.25.mp3': '5af3283ea393b84c3dd735c9384e7b652d105a842f0cc9937fd59e8dff28be96',
      '/segments/demo/talk/12.5-17.25.mp3?mode=exact&bitrate=64&fade_in=0.5':
        '725f8786fc86fa609e9c2a4617bf36bf171db568ff3da160da642f61a84ed631',
    },
    // 5 cuts copies to the sample by the project's own frame code (a rebuilt first frame, an Xing frame).
    5: {
      '/segments/demo/talk/12.5-17.25.mp3': 'f45de91032043cc73c2e418c5bd1372bf7068262fbc246d32f819cd3f4706419',
      '/segments/demo/talk/12.5-17.25.mp3?mode=exact&bitrate=64&fade_in=0.5':
        'ce436e99f0e247a47503ecbf1a0fd508fe3abf7f8d32d6e307d3af29a2d7d7b4',
    },
    // 6 decodes an exact render from its span of the source, primed (decode-span.ts): its first samples change.
    6: {
      '/segments/demo/talk/12.5-17.25.mp3': 'f45de91032043cc73c2e418c5bd1372bf7068262fbc246d32f819cd3f4706419',
      '/segments/demo/talk/12.5-17.25.mp3?mode=exact&bitrate=64&fade_in=0.5':
        '25da129af992fc1cf4c0726d29a503dd9a4a8cc2997f8f427b41543df1c5c30b',
    },
    // 4 writes an exact render's Info frame before encoding (frames, bytes, delay, padding; no seek table).
    4: {
      '/segments/demo/talk/12.5-17.25.mp3': '5af3283ea393b84c3dd735c9384e7b652d105a842f0cc9937fd59e8dff28be96',
      '/segments/demo/talk/12.5-17.25.mp3?mode=exact&bitrate=64&fade_in=0.5':
        'ce436e99f0e247a47503ecbf1a0fd508fe3abf7f8d32d6e307d3af29a2d7d7b4',
    },
  };
  it('has bytes recorded for the current renderer version (a bump must record them)', () => {
    expect(Object.keys(recorded[RENDERER_VERSION] ?? {})).toHaveLength(2);
  });
  it.each(Object.keys(recorded[RENDERER_VERSION] ?? {}))('%s has the bytes recorded for this renderer version', async (url) => {
    const { response, body } = await getBytes(t.url + url);
    expect(response.status).toBe(200);
    await checkSegment(
      await sourceMp3('demo/talk'),
      body,
      { start: 12.5, end: 17.25, mode: url.includes('exact') ? 'exact' : 'copy', ...(url.includes('exact') ? { bitrate: 64 } : {}) },
      t.config.dataDir,
    );
    expect(createHash('sha256').update(body).digest('hex')).toBe(recorded[RENDERER_VERSION]?.[url]);
  });
});

describe('exact mode', () => {
  it('re-encodes with the asked bit rate and channels, cut close to the sample', async () => {
    const { response, body } = await getBytes(
      `${t.url}/segments/demo/tones/5-12.5.mp3?mode=exact&bitrate=64&channels=1&fade_in=0.5&fade_out=1`,
    );
    expect(response.status).toBe(200);
    const verdict = await checkSegment(
      await sourceMp3('demo/tones'),
      body,
      { start: 5, end: 12.5, mode: 'exact', bitrate: 64, channels: 1 },
      t.config.dataDir,
    );
    expect(verdict.output.channels).toBe(1);
    expect(new Set(verdict.output.audioFrames.map((frame) => frame.bitrateKbps))).toEqual(new Set([64]));
    expect(verdict.output.info?.lame).not.toBeNull();
    // A gapless-aware decoder plays 7.5 s to the millisecond.
    expect(Math.abs(verdict.mpg123Seconds - 7.5)).toBeLessThanOrEqual(0.001);
  });
});

describe('one render per key', () => {
  it('20 concurrent requests for a new segment straight at the API cause exactly one render', async () => {
    const before = await rendersTotal(t.apiUrl);
    const outcomesBefore = await answeredOutcomes(t.apiUrl);
    // An exact render (a re-encode, not a copy of a few ms), so that the requests really overlap it.
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => getBytes(`${t.apiUrl}/segments/demo/talk/3-33.mp3?mode=exact&bitrate=320`)),
    );
    expect(answers.map((a) => a.response.status)).toEqual(Array(20).fill(200));
    const first = answers[0]!.body;
    expect(answers.every((a) => a.body.equals(first))).toBe(true);
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
    // One miss; the others joined its wait, or (arriving after it ended, on a busy machine) were hits.
    const moved = outcomesSince(await answeredOutcomes(t.apiUrl), outcomesBefore);
    expect(moved).toMatchObject({ miss: 1, total: 20 });
    expect(moved.joined).toBeGreaterThan(0);
  });
});

describe('one render per key across API processes', () => {
  it('10 concurrent requests to each of two API processes on one Redis cause exactly one render', async () => {
    const second = await startExtraApi(t);
    try {
      const before = await rendersTotal(t.apiUrl);
      const path = '/segments/demo/talk/40-55.mp3';
      const answers = await Promise.all([t.apiUrl, second.url].flatMap((base) => Array.from({ length: 10 }, () => getBytes(base + path))));
      expect(answers.map((a) => a.response.status)).toEqual(Array(20).fill(200));
      expect(answers.every((a) => a.body.equals(answers[0]!.body))).toBe(true);
      expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
      expect(await rendersTotal(second.url)).toBe(before + 1);
    } finally {
      await second.stop();
    }
  });
});

describe('canonical URLs', () => {
  it.each([
    ['/segments/demo/tones/010-20.50.mp3', '/segments/demo/tones/10-20.5.mp3'],
    ['/segments/demo//tones/10-20.mp3', '/segments/demo/tones/10-20.mp3'],
    ['/segments/demo/tones/10-20.mp3?mode=copy', '/segments/demo/tones/10-20.mp3'],
    ['/segments/demo/tones/10-20.mp3?download=1&bitrate=64&mode=exact', '/segments/demo/tones/10-20.mp3?mode=exact&bitrate=64&download=1'],
    ['/segments/%64emo/tones/.5-1.mp3', '/segments/demo/tones/0.5-1.mp3'],
  ])('%s answers 308 to %s', async (asked, canonical) => {
    const { response } = await getBytes(t.url + asked);
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe(canonical);
  });
});

describe('errors are problem+json a person can act on, and the server keeps answering', () => {
  const cases: [string, number, RegExp][] = [
    ['/segments/demo/tones/abc-20.mp3', 400, /'start' must be a number/],
    ['/segments/demo/tones/20-10.mp3', 400, /must be greater than 'start'/],
    ['/segments/demo/tones/1.2345-2.mp3', 400, /three fraction digits/],
    ['/segments/demo/tones/10-20.mp3?volume=11', 400, /Unknown query parameter 'volume'/],
    ['/segments/demo/tones/10-20.mp3?bitrate=64', 400, /'bitrate' applies only to mode=exact/],
    ['/segments/demo/tones/10-20.mp3?mode=exact&bitrate=100', 400, /'bitrate' takes/],
    ['/segments/demo/%00x/1-2.mp3', 400, /NUL/],
    ['/segments/demo/nothing-here/1-2.mp3', 404, /no file demo\/nothing-here\.mp3/],
    ['/segments/demo/tones/95-100.mp3', 422, /past the end of the source/],
    ['/segments/bad/not-audio/1-2.mp3', 422, /not a decodable MP3/],
    ['/segments/bad/empty/1-2.mp3', 422, /it is empty/],
    ['/segments/demo/tones/0-10.mp3?mode=exact&fade_in=6&fade_out=6', 422, /longer than the segment/],
    ['/nowhere', 404, /segments are at/],
  ];
  it.each(cases)('%s → %i', async (path, status, detail) => {
    const { response, body } = await getBytes(t.url + path);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    const problem = JSON.parse(body.toString());
    expect(problem).toMatchObject({ status, type: expect.stringMatching(/^urn:mp3-segments:problem:/), title: expect.any(String) });
    expect(problem.detail).toMatch(detail);
    expect(response.headers.get('x-cache-status')).not.toBe('HIT');
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  it("'..' in any spelling never leaves the media root: 400 from the API, 4xx through nginx (which resolves it first)", async () => {
    for (const dots of ['..', '%2e%2e', '%2E.', '.%2e']) {
      const path = `/segments/demo/${dots}/${dots}/${dots}/etc/passwd/1-2.mp3`;
      const direct = await rawGet(t.apiUrl, path);
      expect(direct.status).toBe(400);
      expect(JSON.parse(direct.body.toString()).detail).toMatch(/'\.' or '\.\.'/);
      const front = await rawGet(t.url, path);
      expect(front.status).toBeGreaterThanOrEqual(400);
      expect(front.status).toBeLessThan(500);
      expect(front.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    }
  });

  it('what nginx or Node refuse before the API sees it is problem+json too (NUL byte, overlong URL, huge header)', async () => {
    const nul = await rawGet(t.url, '/segments/demo/%00/1-2.mp3');
    const long = await rawGet(t.url, `/segments/${'a'.repeat(9000)}/1-2.mp3`);
    for (const [answer, status] of [
      [nul, 400],
      [long, 414],
    ] as const) {
      expect(answer.status).toBe(status);
      expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(JSON.parse(answer.body.toString())).toMatchObject({ status, title: 'Malformed request' });
    }
    const huge = await fetch(`${t.apiUrl}/healthz`, { headers: { 'x-big': 'a'.repeat(20_000) } });
    expect(huge.status).toBe(431);
    expect(huge.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(await huge.json()).toMatchObject({ status: 431, detail: 'The request headers are too large.' });
    expect((await fetch(`${t.apiUrl}/healthz`)).status).toBe(200);
  });

  it('an unsatisfiable Range answers 416 with Content-Range', async () => {
    const { response } = await getBytes(`${t.apiUrl}/segments/demo/tones/10-20.mp3`, { headers: { range: 'bytes=99999999-' } });
    expect(response.status).toBe(416);
    expect(response.headers.get('content-range')).toMatch(/^bytes \*\/\d+$/);
  });

  it('errors are not cached by nginx', async () => {
    await getBytes(`${t.url}/segments/demo/nothing-here/1-2.mp3`);
    const again = await getBytes(`${t.url}/segments/demo/nothing-here/1-2.mp3`);
    expect(again.response.headers.get('x-cache-status')).toBe('MISS');
  });
});

describe('catalog and operations', () => {
  it('GET /sources/{source} gives the facts of the source', async () => {
    const response = await fetch(`${t.url}/sources/demo/talk`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-cache-status')).toBe('BYPASS');
    const facts = await response.json();
    expect(facts).toMatchObject({ source: 'demo/talk', sampleRate: 22050, channels: 1 });
    expect(Math.abs(facts.durationSeconds - 60)).toBeLessThan(0.1);
  });

  it('/readyz is ready when Redis answers and workers are connected', async () => {
    const response = await fetch(`${t.url}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready' });
  });
});
