// What the nginx front answers when the API cannot (issue 14): its own 502/504 as a 503 problem+json with
// Retry-After, never cached, within WAIT_TIMEOUT_MS + 1 s; the API's own 503 untouched; redirects never
// kept in the cache; oversized headers refused as problem+json. One stack, the API stopped last.
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETRY_AFTER } from '../../src/retry-after.js';
import { eventually, getBytes, rawGet, startTestStack, waitingRequests, type TestStack } from '../helpers/test-stack.js';

const WAIT_TIMEOUT_MS = 1_500;
let t: TestStack;
beforeAll(async () => {
  // One waiting request at most: a second one is the API's own 503 at once. Segments expire from nginx's
  // cache after a second, so a fault can be met with an entry that is only stale.
  t = await startTestStack({
    WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
    MAX_WAITING_REQUESTS: '1',
    WORKERS: '1',
    CACHE_MAX_AGE_SECONDS: '1',
  });
});
afterAll(async () => {
  await t?.stop();
});

/** Sends SIGSTOP to each pid, runs `body`, and always sends SIGCONT after. */
async function whileStopped<T>(pids: number[], body: () => Promise<T>): Promise<T> {
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  try {
    return await body();
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
}

/** The answer nginx makes itself when it has none from the API. */
function expectFrontProblem(answer: { status: number; headers: http.IncomingHttpHeaders; body: Buffer }, status: number) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(answer.headers['retry-after']).toBe(String(RETRY_AFTER.frontNoAnswer));
  expect(answer.headers['cache-control']).toBe('no-store');
  expect(JSON.parse(answer.body.toString())).toMatchObject({
    type: 'urn:mp3-segments:problem:unavailable',
    title: 'Service unavailable',
    status,
    detail: expect.stringMatching(/retry/),
  });
}

describe('redirects through nginx', () => {
  it('a 308 to the canonical URL is never kept: asked again, it is not a HIT', async () => {
    const asked = `${t.url}/segments/demo/tones/0010-20.mp3`;
    for (let i = 0; i < 2; i += 1) {
      const { response } = await getBytes(asked);
      expect(response.status).toBe(308);
      expect(response.headers.get('location')).toBe('/segments/demo/tones/10-20.mp3');
      expect(response.headers.get('x-cache-status')).toBe('MISS');
    }
  });
});

describe('requests nginx refuses', () => {
  it('a header over 8 KB is a 400 problem+json from nginx', async () => {
    const answer = await rawGet(t.url, '/segments/demo/tones/1-2.mp3', { headers: { 'x-big': 'a'.repeat(9_000) } });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(JSON.parse(answer.body.toString())).toMatchObject({ status: 400, title: 'Malformed request' });
  });
});

describe("the API's own 503", () => {
  it('passes through nginx as the API wrote it (its detail, its Retry-After)', async () => {
    const workers = t.stack.workers.processes.map((worker) => worker.pid);
    await whileStopped(workers, async () => {
      // With the worker stopped, this miss waits (and ends in a 503 or 504: either is fine here)...
      const waiting = rawGet(t.url, '/segments/demo/tones/40-41.mp3').catch(() => undefined);
      await eventually(async () => ((await waitingRequests(t.apiUrl)) === 1 ? true : undefined), 'a request to wait');
      // ...and the next one is over MAX_WAITING_REQUESTS: the API refuses it at once.
      const refused = await rawGet(t.url, '/segments/demo/tones/41-42.mp3');
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe(String(RETRY_AFTER.overloaded));
      expect(JSON.parse(refused.body.toString())).toMatchObject({
        type: 'urn:mp3-segments:problem:unavailable',
        instance: expect.any(String),
      });
      await waiting;
    });
  });
});

describe('an API that does not answer', () => {
  const cached = '/segments/demo/tones/2-4.mp3';
  let cachedBody: Buffer;

  /** The cached segment, served by nginx from its cache (fresh or, once expired, stale). */
  async function expectServedFromCache(statuses: string[]) {
    const { response, body } = await getBytes(t.url + cached);
    expect(response.status).toBe(200);
    expect(statuses).toContain(response.headers.get('x-cache-status'));
    expect(body.equals(cachedBody)).toBe(true);
    return response.headers.get('x-cache-status');
  }

  it("a stalled API: a miss gets (not nginx's 504 page) a 503 problem+json with Retry-After within WAIT_TIMEOUT_MS + 1 s; a cached segment is still served", async () => {
    cachedBody = (await getBytes(t.url + cached)).body;
    const api = t.stack.api.processes.map((child) => child.pid);
    await whileStopped(api, async () => {
      const started = performance.now();
      // Deadline well past the bound, so a late answer fails the assertion below rather than the request.
      const answer = await rawGet(t.url, '/segments/demo/tones/5-7.mp3', { deadlineMs: 30_000 });
      const elapsed = performance.now() - started;
      expectFrontProblem(answer, 503);
      // nginx's timers: cache lock + read timeout = WAIT_TIMEOUT_MS + 1 s; a little more for this client.
      expect(elapsed).toBeLessThan(WAIT_TIMEOUT_MS + 1_000 + 500);
      await expectServedFromCache(['HIT', 'STALE']);
    });
  });

  it("an API that is down: misses and every other path get (not nginx's 502 page) a 503 problem+json with Retry-After, never cached; a cached segment is still served, stale once expired", async () => {
    await t.stack.api.stop(2_000);
    for (const path of ['/segments/demo/tones/7-9.mp3', '/segments/demo/tones/7-9.mp3', '/healthz', `/renders/${'a'.repeat(32)}`]) {
      const answer = await rawGet(t.url, path);
      expectFrontProblem(answer, 503);
      expect(answer.headers['x-cache-status']).not.toBe('HIT');
    }
    // proxy_cache_use_stale: the expired entry answers instead of the 503 (polled: it expires after 1 s).
    await eventually(async () => ((await expectServedFromCache(['HIT', 'STALE'])) === 'STALE' ? true : undefined), 'a STALE answer');
  });
});
