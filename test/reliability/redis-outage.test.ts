// Redis outage: with Redis stalled (SIGSTOP: a slow script, a fork or fsync stall, a black hole), misses get
// 503 + Retry-After within the wait limit and /readyz and /metrics answer within a second; with Redis
// stopped, nginx hits and store hits are still served, misses get 503 + Retry-After at once, a request
// waiting on a render gets an answer, /readyz says Redis is down; Redis started again on its port, the same
// API and worker processes recover by themselves.
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../src/queue/render-job.js';
import type { ManagedProcess } from '../../src/stack/managed-process.js';
import { startPrivateRedis } from '../../src/stack/private-redis.js';
import { findProgram } from '../../src/stack/system-tools.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import {
  eventually,
  getBytes,
  rendersTotal,
  startExtraApi,
  startTestStack,
  waitingRequests,
  type TestStack,
} from '../helpers/test-stack.js';

const NGINX_HIT = '/segments/demo/tones/30-40.mp3';
const STORE_HIT = '/segments/demo/chirp/4-6.mp3';
/** Each request must be answered within this: a hang fails the test instead of passing late. */
const ANSWER_WITHIN_MS = 8_000;

let t: TestStack;
let restarted: ManagedProcess | null = null;
const reference = new Map<string, Buffer>();
let pidsBefore: number[];
/** What the request that was waiting when Redis went down got (for the printed summary). */
let waitingStatus = 0;
/** An API process with a 3 s wait limit. */
let shortWaitApi: Awaited<ReturnType<typeof startExtraApi>>;
const SHORT_WAIT_MS = 3_000;

beforeAll(async () => {
  t = await startTestStack({ WORKERS: '1' });
  reference.set(NGINX_HIT, (await getBytes(t.url + NGINX_HIT)).body);
  reference.set(STORE_HIT, (await getBytes(t.apiUrl + STORE_HIT)).body);
  pidsBefore = [...t.stack.api.processes, ...t.stack.workers.processes].map((p) => p.pid);
  shortWaitApi = await startExtraApi(t, { WAIT_TIMEOUT_MS: String(SHORT_WAIT_MS) });
});
afterAll(async () => {
  await shortWaitApi?.stop();
  await t?.stop();
  await restarted?.stop(5_000);
});

const bounded = (url: string) => getBytes(url, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });

/** The answer and how long it took. */
async function timed(url: string): Promise<Awaited<ReturnType<typeof bounded>> & { ms: number }> {
  const started = performance.now();
  const answer = await bounded(url);
  return { ...answer, ms: performance.now() - started };
}

describe('Redis stalled (SIGSTOP) and continued', () => {
  beforeAll(async () => {
    // The API has described the source (a store hit) before: what is timed below is the wait alone.
    expect((await bounded(shortWaitApi.url + STORE_HIT)).response.status).toBe(200);
    process.kill(t.stack.redis!.processes[0]!.pid, 'SIGSTOP');
  });
  afterAll(() => {
    process.kill(t.stack.redis!.processes[0]!.pid, 'SIGCONT');
  });

  it('a miss gets 503 with Retry-After within the wait limit and 1 s, and the API still counts it while it waits', async () => {
    const miss = timed(`${shortWaitApi.url}/segments/demo/chirp/20-22.mp3`);
    await eventually(async () => ((await waitingRequests(shortWaitApi.url)) === 1 ? true : undefined), 'the miss to be counted as waiting');
    const { response, ms } = await miss;
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ms).toBeLessThan(SHORT_WAIT_MS + 1_000);
    expect(await waitingRequests(shortWaitApi.url)).toBe(0);
  });

  it('hits are still served with the right bytes', async () => {
    const nginx = await bounded(t.url + NGINX_HIT);
    expect(nginx.response.headers.get('x-cache-status')).toBe('HIT');
    expect(nginx.body.equals(reference.get(NGINX_HIT)!)).toBe(true);
    const stored = await bounded(t.apiUrl + STORE_HIT);
    expect(stored.body.equals(reference.get(STORE_HIT)!)).toBe(true);
  });

  it('/readyz and /metrics answer within a second, saying Redis does not answer', async () => {
    const ready = await timed(`${t.apiUrl}/readyz`);
    expect(ready.response.status).toBe(503);
    expect(JSON.parse(ready.body.toString()).detail).toMatch(/Redis does not answer/);
    expect(ready.ms).toBeLessThan(1_000);
    const metrics = await timed(`${t.apiUrl}/metrics`);
    expect(metrics.response.status).toBe(200);
    expect(metrics.body.toString()).toMatch(/^segment_redis_up 0$/m);
    expect(metrics.ms).toBeLessThan(1_000);
  });

  it('once Redis continues, the same processes render a new miss, with no restart', async () => {
    process.kill(t.stack.redis!.processes[0]!.pid, 'SIGCONT');
    const { response, body } = await bounded(`${shortWaitApi.url}/segments/demo/chirp/22-24.mp3`);
    expect(response.status).toBe(200);
    expect(Math.abs(readMp3(body).durationSeconds - 2)).toBeLessThanOrEqual(2 * (1152 / 48000));
    expect((await bounded(`${t.apiUrl}/metrics`)).body.toString()).toMatch(/^segment_redis_up 1$/m);
  });
});

describe('Redis going down', () => {
  let waiting: Promise<Awaited<ReturnType<typeof bounded>>>;

  beforeAll(async () => {
    // A request waiting on a long render when Redis goes away, at an API process with a 3 s wait limit.
    waiting = bounded(`${shortWaitApi.url}/segments/demo/tones/0-90.mp3?mode=exact&bitrate=320`);
    await eventually(async () => ((await waitingRequests(shortWaitApi.url)) === 1 ? true : undefined), 'the request to wait');
    await t.stack.redis!.stop(5_000);
  });

  it('nginx hits and store hits are still served with the right bytes', async () => {
    const nginx = await bounded(t.url + NGINX_HIT);
    expect(nginx.response.status).toBe(200);
    expect(nginx.response.headers.get('x-cache-status')).toBe('HIT');
    expect(nginx.body.equals(reference.get(NGINX_HIT)!)).toBe(true);
    const stored = await bounded(t.apiUrl + STORE_HIT);
    expect(stored.response.status).toBe(200);
    expect(stored.body.equals(reference.get(STORE_HIT)!)).toBe(true);
  });

  it('a miss gets 503 with Retry-After at once, through nginx and at the API', async () => {
    for (const base of [t.url, t.apiUrl]) {
      const { response, body } = await bounded(`${base}/segments/demo/chirp/10-12.mp3`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(body.toString()).detail).toBe('The render queue (Redis) cannot be reached; retry shortly.');
    }
  });

  it('the request that was waiting gets an answer: the render, or 503 with Retry-After', async () => {
    const { response, body } = await waiting;
    waitingStatus = response.status;
    if (response.status === 200) expect(Math.abs(readMp3(body).durationSeconds - 90)).toBeLessThanOrEqual(0.002);
    else {
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
    }
  });

  it('/readyz answers 503 saying Redis does not answer', async () => {
    const ready = await bounded(`${t.url}/readyz`);
    expect(ready.response.status).toBe(503);
    expect(JSON.parse(ready.body.toString()).detail).toMatch(/Redis does not answer/);
  });
});

describe('Redis back on its port', () => {
  beforeAll(async () => {
    const { port } = new URL(t.stack.redisUrl);
    restarted = (
      await startPrivateRedis({
        program: findProgram('redis-server')!,
        dataDir: t.config.dataDir,
        port: Number(port),
        sink: (name, line) => t.logs.push(`${name}: ${line}`),
      })
    ).process;
  });

  it('the same API and worker processes recover by themselves: ready again, and a new miss renders', async () => {
    const since = performance.now();
    await eventually(async () => ((await fetch(`${t.url}/readyz`)).status === 200 ? true : undefined), '/readyz to answer 200');
    const readyAfter = performance.now() - since;
    // The render that ended while Redis was down is counted once its worker has reconnected: let its job
    // leave the queue first, so that count does not land after the one read here.
    const queue = new Queue(QUEUE_NAME, { connection: { url: t.stack.redisUrl } });
    try {
      await eventually(
        async () =>
          Object.values(await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized')).every((n) => n === 0) ? true : undefined,
        'the queue to be idle',
      );
    } finally {
      await queue.close();
    }
    const before = await rendersTotal(t.apiUrl);
    const { response, body } = await bounded(`${t.url}/segments/demo/chirp/10-12.mp3`);
    expect(response.status).toBe(200);
    expect(Math.abs(readMp3(body).durationSeconds - 2)).toBeLessThanOrEqual(2 * (1152 / 48000));
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
    expect([...t.stack.api.processes, ...t.stack.workers.processes].map((p) => p.pid)).toEqual(pidsBefore);
    expect(t.stack.api.restarts + t.stack.workers.restarts).toBe(0);
    console.log(
      `redis outage: hits served, misses 503 while down, the waiting request got ${waitingStatus}; ready again ${(readyAfter / 1000).toFixed(1)} s after Redis restarted, no process restarted`,
    );
  });
});
