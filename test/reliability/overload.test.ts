// Overload: past MAX_QUEUE_DEPTH or MAX_WAITING_REQUESTS a new miss gets 503 + Retry-After at once, while
// nginx hits and store hits keep being served; when the load stops the service recovers by itself.
// Each case makes its own load on segments no other case asks for, and starts from an idle stack
// (beforeEach), so any one of them runs alone (-t) as it runs in the file.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../src/queue/render-job.js';
import { ANSWERED_OUTCOMES, median, metricValue, segmentOutcomes } from '../helpers/metrics.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import { eventually, getBytes, startTestStack, waitingRequests, type TestStack } from '../helpers/test-stack.js';

const MAX_QUEUE_DEPTH = 8;
const MAX_WAITING_REQUESTS = 40;
const QUEUE_FULL = `${MAX_QUEUE_DEPTH} renders are already queued; retry shortly.`;
const TOO_MANY_WAITING = `${MAX_WAITING_REQUESTS} requests are already waiting on renders; retry shortly.`;
const NGINX_HIT = '/segments/demo/tones/10-20.mp3';
const STORE_HIT = '/segments/demo/chirp/1-3.mp3';

let t: TestStack;
/** The render queue itself, to see it idle and, in one case, to hold it full. */
let queue: Queue;
/** What each hit answered when the stack was idle: the bytes and ETag every later hit must repeat. */
const reference = new Map<string, { body: Buffer; etag: string | null }>();

beforeAll(async () => {
  t = await startTestStack({
    WORKERS: '1',
    MAX_QUEUE_DEPTH: String(MAX_QUEUE_DEPTH),
    MAX_WAITING_REQUESTS: String(MAX_WAITING_REQUESTS),
    WAIT_TIMEOUT_MS: '60000',
  });
  queue = new Queue(QUEUE_NAME, { connection: { url: t.stack.redisUrl } });
  for (const [path, base] of [
    [NGINX_HIT, t.url],
    [STORE_HIT, t.apiUrl],
  ] as const) {
    const { response, body } = await getBytes(base + path);
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    reference.set(path, { body, etag: response.headers.get('etag') });
  }
  expect((await getBytes(t.url + NGINX_HIT)).response.headers.get('x-cache-status')).toBe('HIT');
});
afterAll(async () => {
  await queue?.close();
  await t?.stop();
});

/** No job waiting, delayed or being rendered. */
async function queueIsIdle(): Promise<boolean> {
  const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
  return Object.values(counts).every((n) => n === 0);
}

let arrivals = 0;
beforeEach(async () => {
  arrivals = 0;
  // A case that failed half-way may have left the queue paused or renders running: start from idle.
  if (await queue.isPaused()) await queue.resume();
  // The depth the API sheds on counts, for up to 200 ms, the jobs it added since its last reading of Redis,
  // even finished ones (queue-depth.ts): wait until it too reads 0, or a case would find its queue part full.
  await eventually(
    async () =>
      (await queueIsIdle()) && (await waitingRequests(t.apiUrl)) === 0 && (await metricValue(t.apiUrl, 'segment_queue_depth')) === 0
        ? true
        : undefined,
    'the queue to be idle, no request waiting and the queue depth to read 0',
    60_000,
  );
});

interface Timed {
  status: number;
  retryAfter: string | null;
  detail: string;
  body: Buffer;
  ms: number;
  /** Order in which answers arrived, across all requests of one case. */
  order: number;
}

/** GET with the time it took; `deadlineMs`: reject when no whole answer came by then. */
async function timedGet(url: string, deadlineMs?: number): Promise<Timed> {
  const started = performance.now();
  const { response, body } = await getBytes(url, deadlineMs ? { signal: AbortSignal.timeout(deadlineMs) } : undefined);
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

type HitKind = 'nginx' | 'store';

/** One hit, described by what must not change under load: status, cache status, ETag, length and bytes. */
async function hit(kind: HitKind): Promise<{ answer: string; ms: number }> {
  const [path, base] = kind === 'nginx' ? [NGINX_HIT, t.url] : [STORE_HIT, t.apiUrl];
  const started = performance.now();
  const { response, body } = await getBytes(base + path);
  const ms = performance.now() - started;
  const same = body.equals(reference.get(path)!.body) ? 'the reference bytes' : 'other bytes';
  const cache = kind === 'nginx' ? ` ${response.headers.get('x-cache-status')}` : '';
  return { answer: `${kind} ${response.status}${cache} ETag ${response.headers.get('etag')}, ${body.length} bytes: ${same}`, ms };
}

/** What a hit must answer, loaded or not: 200 (never a 503), an nginx HIT, the reference ETag and bytes. */
function expectedHit(kind: HitKind): string {
  const path = kind === 'nginx' ? NGINX_HIT : STORE_HIT;
  const { body, etag } = reference.get(path)!;
  return `${kind} 200${kind === 'nginx' ? ' HIT' : ''} ETag ${etag}, ${body.length} bytes: the reference bytes`;
}

interface HitTimes {
  nginx: number[];
  store: number[];
  /** Hits that did not answer as expectedHit says. */
  wrong: string[];
}

/** Hit rounds (one nginx hit, one store hit) one after another until `load` settles. */
async function hitsDuring(load: Promise<unknown>): Promise<HitTimes> {
  let loaded = false;
  void load.finally(() => {
    loaded = true;
  });
  const times: HitTimes = { nginx: [], store: [], wrong: [] };
  while (!loaded) {
    for (const kind of ['nginx', 'store'] as const) {
      const { answer, ms } = await hit(kind);
      if (answer !== expectedHit(kind)) times.wrong.push(answer);
      times[kind].push(ms);
    }
  }
  return times;
}

/**
 * Distinct segments of demo/talk (60 s), `seconds` long, the first from `from` s and each next one 0.125 s
 * later: every case takes its own `from`, so no case finds another's renders in a cache. An exact render
 * re-encodes (the worker is busy for a while); a copy is the cheapest render there is.
 */
const distinctMisses = (count: number, from: number, seconds: number, mode: 'exact' | 'copy') =>
  Array.from({ length: count }, (_, i) => {
    const start = from + i * 0.125;
    return `/segments/demo/talk/${start}-${start + seconds}.mp3${mode === 'exact' ? '?mode=exact' : ''}`;
  });

const answeredCount = async () =>
  (await Promise.all(ANSWERED_OUTCOMES.map((outcome) => segmentOutcomes(t.apiUrl, outcome)))).reduce((sum, n) => sum + n, 0);

describe('overload', () => {
  it(`while the queue is full (${MAX_QUEUE_DEPTH} waiting) and every new miss gets 503, nginx and store hits answer 200 with their ETag and bytes, none shed`, async () => {
    // Paused, the worker takes no job: the queue stays full for as long as this case needs, on any machine.
    await queue.pause();
    let fill: Promise<Timed[]> | undefined;
    try {
      fill = Promise.all(distinctMisses(MAX_QUEUE_DEPTH, 40, 2, 'copy').map((url) => timedGet(t.url + url)));
      // Jobs carry a priority (a listener's), so they wait in BullMQ's 'prioritized' set, not its wait list.
      const queued = async () => Object.values(await queue.getJobCounts('waiting', 'prioritized')).reduce((sum, n) => sum + n, 0);
      await eventually(async () => ((await queued()) === MAX_QUEUE_DEPTH ? true : undefined), 'the queue to fill');
      const shedBefore = await segmentOutcomes(t.apiUrl, 'shed');
      const answeredBefore = await answeredCount();
      // Each round of hits sits between two new misses that are shed: the queue was full all along. A miss
      // that was queued instead would wait for as long as the pause: it gets 5 s.
      const probe = (url: string) =>
        timedGet(t.url + url, 5_000).then(
          (answer) => `${answer.status} ${answer.retryAfter} ${answer.detail}`,
          () => 'no answer within 5 s: queued, not shed',
        );
      const shedAnswer = `503 2 ${QUEUE_FULL}`;
      const probes = distinctMisses(21, 50, 2, 'copy');
      const probed = [await probe(probes[0]!)];
      const hits: string[] = [];
      const expected: string[] = [];
      for (const url of probes.slice(1)) {
        if (probed[probed.length - 1] !== shedAnswer) break;
        for (const kind of ['nginx', 'store'] as const) {
          hits.push((await hit(kind)).answer);
          expected.push(expectedHit(kind));
        }
        probed.push(await probe(url));
      }
      expect(probed).toEqual(probes.map(() => shedAnswer));
      expect(hits).toEqual(expected);
      // The API counted the probes, and only them, as shed; each store hit as answered (nginx hits never reach it).
      expect(await segmentOutcomes(t.apiUrl, 'shed')).toBe(shedBefore + probed.length);
      expect(await answeredCount()).toBe(answeredBefore + hits.length / 2);
    } finally {
      await queue.resume();
    }
    const filled = await fill;
    expect(filled.map((answer) => answer.status)).toEqual(filled.map(() => 200));
  });

  it(`past MAX_QUEUE_DEPTH (${MAX_QUEUE_DEPTH}) a new miss gets 503 + Retry-After at once, while nginx and store hits keep answering`, async () => {
    const shedBefore = await segmentOutcomes(t.apiUrl, 'shed');
    // Each re-encodes 20 s, so the one worker stays busy while the burst arrives.
    const urls = distinctMisses(120, 1, 20, 'exact');
    const burst = Promise.all(urls.map((url) => timedGet(t.url + url)));
    const hits = await hitsDuring(burst);
    const answers = await burst;

    const shed = answers.filter((a) => a.status === 503);
    const rendered = answers.filter((a) => a.status === 200);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503).map((a) => `${a.status} ${a.detail}`)).toEqual([]);
    expect(shed.length).toBeGreaterThan(0);
    expect(rendered.length).toBeGreaterThanOrEqual(MAX_QUEUE_DEPTH);
    // Each request is a waiting one until its job is admitted: when more than MAX_WAITING_REQUESTS arrive
    // between two depth readings (a loaded machine), the waiting limit sheds some of the burst too.
    for (const answer of shed) {
      expect(answer.retryAfter).toBe('2');
      expect([QUEUE_FULL, TOO_MANY_WAITING]).toContain(answer.detail);
    }
    expect(shed.filter((answer) => answer.detail === QUEUE_FULL).length).toBeGreaterThan(0);
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
      expect(answer.detail).toBe(TOO_MANY_WAITING);
    }
    expect(Math.max(...shed.map((a) => a.order))).toBeLessThan(Math.max(...served.map((a) => a.order)));
    const [first] = served;
    for (const answer of served) expect(answer.body.equals(first!.body)).toBe(true);
    expect(Math.abs(readMp3(first!.body).durationSeconds - 60)).toBeLessThanOrEqual(0.002);
    console.log(`waiting-limit overload: ${answers.length} requests for one render → ${served.length} served, ${shed.length} shed (503)`);
  });

  it('recovers by itself when the load stops: nothing waits, nothing queued, shed URLs render when asked again', async () => {
    // Its own overload: one long render keeps the worker busy while short misses overfill the queue behind it.
    const long = timedGet(`${t.url}/segments/demo/talk/0-20.mp3?mode=exact`);
    await eventually(async () => ((await queue.getActiveCount()) === 1 ? true : undefined), 'the long render to start');
    const urls = distinctMisses(3 * MAX_QUEUE_DEPTH, 30, 2, 'copy');
    const answers = await Promise.all([long, ...urls.map((url) => timedGet(t.url + url))]);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503).map((a) => `${a.status} ${a.detail}`)).toEqual([]);
    const shedUrls = urls.filter((_, i) => answers[i + 1]!.status === 503);
    expect(shedUrls.length).toBeGreaterThan(0);

    // Nobody steps in: the waits end, the queue empties and the depth the misses are shed on drops to 0.
    await eventually(async () => ((await waitingRequests(t.apiUrl)) === 0 ? true : undefined), 'the waits to end');
    await eventually(async () => ((await queueIsIdle()) ? true : undefined), 'the queue to empty');
    await eventually(
      async () => ((await metricValue(t.apiUrl, 'segment_queue_depth')) === 0 ? true : undefined),
      'the queue depth to read 0',
    );
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
    // A URL that was shed is not cached as a 503 anywhere: it renders now.
    const again = await getBytes(t.url + shedUrls[shedUrls.length - 1]);
    expect(again.response.status).toBe(200);
    expect(again.response.headers.get('x-cache-status')).toBe('MISS');
    // A copy is cut on frames: its length is the asked one within two of them.
    const copy = readMp3(again.body);
    expect(Math.abs(copy.durationSeconds - 2)).toBeLessThanOrEqual((2 * copy.samplesPerFrame) / copy.sampleRate);
    expect(await metricValue(t.apiUrl, 'segment_waiting_requests')).toBe(0);
  });
});
