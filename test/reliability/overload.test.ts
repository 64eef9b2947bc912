// Overload: past MAX_QUEUE_DEPTH or MAX_WAITING_REQUESTS a new miss gets 503 + Retry-After at once, while
// nginx hits and store hits keep being served; when the load stops the service recovers by itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { median, metricValue, segmentOutcomes } from '../helpers/metrics.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import { eventually, getBytes, startTestStack, waitingRequests, type TestStack } from '../helpers/test-stack.js';

const MAX_QUEUE_DEPTH = 8;
const MAX_WAITING_REQUESTS = 40;
const NGINX_HIT = '/segments/demo/tones/10-20.mp3';
const STORE_HIT = '/segments/demo/chirp/1-3.mp3';

let t: TestStack;
/** URLs that were shed: asked again after the load, they must render (a 503 is never cached). */
const shedUrls: string[] = [];
const reference = new Map<string, Buffer>();

beforeAll(async () => {
  t = await startTestStack({
    WORKERS: '1',
    MAX_QUEUE_DEPTH: String(MAX_QUEUE_DEPTH),
    MAX_WAITING_REQUESTS: String(MAX_WAITING_REQUESTS),
    WAIT_TIMEOUT_MS: '60000',
  });
  reference.set(NGINX_HIT, (await getBytes(t.url + NGINX_HIT)).body);
  reference.set(STORE_HIT, (await getBytes(t.apiUrl + STORE_HIT)).body);
  expect((await getBytes(t.url + NGINX_HIT)).response.headers.get('x-cache-status')).toBe('HIT');
});
afterAll(async () => {
  await t?.stop();
});

interface Timed {
  status: number;
  retryAfter: string | null;
  detail: string;
  body: Buffer;
  ms: number;
  /** Order in which answers arrived, across all requests of one burst. */
  order: number;
}

let arrivals = 0;
async function timedGet(url: string): Promise<Timed> {
  const started = performance.now();
  const { response, body } = await getBytes(url);
  const ms = performance.now() - started;
  const isProblem = response.headers.get('content-type')?.startsWith('application/problem+json');
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    detail: isProblem ? JSON.parse(body.toString()).detail : '',
    body,
    ms,
    order: arrivals++,
  };
}

interface HitTimes {
  nginx: number[];
  store: number[];
  /** Hits that did not answer 200 with their reference bytes. */
  wrong: string[];
}

/** One nginx hit and one store hit, each checked against its reference bytes. */
async function hitRound(times: HitTimes): Promise<void> {
  for (const [kind, path, base] of [
    ['nginx', NGINX_HIT, t.url],
    ['store', STORE_HIT, t.apiUrl],
  ] as const) {
    const hit = await timedGet(base + path);
    if (hit.status !== 200 || !hit.body.equals(reference.get(path)!)) times.wrong.push(`${kind}: ${hit.status}`);
    times[kind].push(hit.ms);
  }
}

/** Hit rounds one after another until `load` settles. */
async function hitsDuring(load: Promise<unknown>): Promise<HitTimes> {
  let loaded = false;
  void load.finally(() => (loaded = true));
  const times: HitTimes = { nginx: [], store: [], wrong: [] };
  while (!loaded) await hitRound(times);
  return times;
}

/** Distinct exact-mode misses of demo/talk (60 s): each re-encodes 20 s, so the one worker stays busy. */
const distinctMisses = (count: number, salt: number) =>
  Array.from(
    { length: count },
    (_, i) => `/segments/demo/talk/${(salt + i * 0.125).toFixed(3).replace(/\.?0+$/, '')}-${salt + 20 + i * 0.125}.mp3?mode=exact`,
  );

describe('overload', () => {
  it('hits are served as fast as when idle (figures printed), for reference', async () => {
    const idle: HitTimes = { nginx: [], store: [], wrong: [] };
    for (let i = 0; i < 100; i++) await hitRound(idle);
    expect(idle.wrong).toEqual([]);
    console.log(
      `idle hits: nginx median ${median(idle.nginx).toFixed(2)} ms, store median ${median(idle.store).toFixed(2)} ms (${idle.nginx.length} each)`,
    );
  });

  it(`past MAX_QUEUE_DEPTH (${MAX_QUEUE_DEPTH}) a new miss gets 503 + Retry-After at once, while nginx and store hits keep answering`, async () => {
    const shedBefore = await segmentOutcomes(t.apiUrl, 'shed');
    arrivals = 0;
    const urls = distinctMisses(120, 1);
    const burst = Promise.all(urls.map((url) => timedGet(t.url + url)));
    const hits = await hitsDuring(burst);
    const answers = await burst;

    const shed = answers.filter((a) => a.status === 503);
    const rendered = answers.filter((a) => a.status === 200);
    answers.forEach((answer, i) => {
      if (answer.status === 503) shedUrls.push(urls[i]!);
    });
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503).map((a) => `${a.status} ${a.detail}`)).toEqual([]);
    expect(shed.length).toBeGreaterThan(0);
    expect(rendered.length).toBeGreaterThanOrEqual(MAX_QUEUE_DEPTH);
    // Each request is a waiting one until its job is admitted: when more than MAX_WAITING_REQUESTS arrive
    // between two depth readings (a loaded machine), the waiting limit sheds some of the burst too.
    const queueFull = `${MAX_QUEUE_DEPTH} renders are already queued; retry shortly.`;
    const tooManyWaiting = `${MAX_WAITING_REQUESTS} requests are already waiting on renders; retry shortly.`;
    for (const answer of shed) {
      expect(answer.retryAfter).toBe('2');
      expect([queueFull, tooManyWaiting]).toContain(answer.detail);
    }
    expect(shed.filter((answer) => answer.detail === queueFull).length).toBeGreaterThan(0);
    // "At once": no shed request waited for the queue to drain; each was answered before the last render.
    expect(Math.max(...shed.map((a) => a.order))).toBeLessThan(Math.max(...rendered.map((a) => a.order)));
    for (const answer of rendered) expect(Math.abs(readMp3(answer.body).durationSeconds - 20)).toBeLessThanOrEqual(0.002);
    expect(await segmentOutcomes(t.apiUrl, 'shed')).toBe(shedBefore + shed.length);

    expect(hits.wrong).toEqual([]);
    expect(hits.nginx.length).toBeGreaterThan(0);
    console.log(
      `queue-depth overload: ${answers.length} misses → ${rendered.length} rendered (200), ${shed.length} shed (503, median ${median(shed.map((a) => a.ms)).toFixed(1)} ms vs ${median(rendered.map((a) => a.ms)).toFixed(0)} ms for a render); ` +
        `meanwhile ${hits.nginx.length} nginx hits (median ${median(hits.nginx).toFixed(2)} ms) and ${hits.store.length} store hits (median ${median(hits.store).toFixed(2)} ms), all 200 with the right bytes`,
    );
  });

  it(`past MAX_WAITING_REQUESTS (${MAX_WAITING_REQUESTS}) in one API process a new miss gets 503 + Retry-After at once`, async () => {
    arrivals = 0;
    // One long render that every request joins: only the waiting limit can refuse them.
    const url = `${t.apiUrl}/segments/demo/talk/0-60.mp3?mode=exact&bitrate=320`;
    const answers = await Promise.all(Array.from({ length: MAX_WAITING_REQUESTS + 30 }, () => timedGet(url)));
    const shed = answers.filter((a) => a.status === 503);
    const served = answers.filter((a) => a.status === 200);
    expect(shed.length + served.length).toBe(answers.length);
    expect(shed.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThanOrEqual(MAX_WAITING_REQUESTS);
    for (const answer of shed) {
      expect(answer.retryAfter).toBe('2');
      expect(answer.detail).toBe(`${MAX_WAITING_REQUESTS} requests are already waiting on renders; retry shortly.`);
    }
    expect(Math.max(...shed.map((a) => a.order))).toBeLessThan(Math.max(...served.map((a) => a.order)));
    const [first] = served;
    for (const answer of served) expect(answer.body.equals(first!.body)).toBe(true);
    expect(Math.abs(readMp3(first!.body).durationSeconds - 60)).toBeLessThanOrEqual(0.002);
    console.log(`waiting-limit overload: ${answers.length} requests for one render → ${served.length} served, ${shed.length} shed (503)`);
  });

  it('recovers by itself when the load stops: nothing waits, nothing queued, shed URLs render when asked again', async () => {
    await eventually(async () => ((await waitingRequests(t.apiUrl)) === 0 ? true : undefined), 'the waits to end');
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    // A URL that was shed is not cached as a 503 anywhere: it renders now.
    expect(shedUrls.length).toBeGreaterThan(0);
    const again = await getBytes(t.url + shedUrls[shedUrls.length - 1]);
    expect(again.response.status).toBe(200);
    expect(Math.abs(readMp3(again.body).durationSeconds - 20)).toBeLessThanOrEqual(0.002);
    expect(await metricValue(t.apiUrl, 'segment_waiting_requests')).toBe(0);
  });
});
