// The API as one value (src/api.ts): the sizes it derives from its configuration, its refusal to start
// without Redis, and its close(): connections closed, no wait left, a waiting request answered 503.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiSizing, RedisUrlMissing, startApi } from '../../src/api.js';
import { parseConfig } from '../../src/config.js';
import { eventually } from '../helpers/test-stack.js';
import { buildTestApi, type TestApi } from '../helpers/test-api.js';
import { startTestRedis, type TestRedis } from '../helpers/test-redis.js';

describe('apiSizing', () => {
  it('marks renders in use every third of the eviction grace', () => {
    expect(apiSizing({ storeEvictGraceMs: 60_000, hotCacheMaxBytes: 1_600 }).markUsedEveryMs).toBe(20_000);
    expect(apiSizing({ storeEvictGraceMs: 1_000, hotCacheMaxBytes: 1_600 }).markUsedEveryMs).toBe(333);
  });

  it('marks renders in use at most every 250 ms, however short the grace', () => {
    expect(apiSizing({ storeEvictGraceMs: 600, hotCacheMaxBytes: 1_600 }).markUsedEveryMs).toBe(250);
    expect(apiSizing({ storeEvictGraceMs: 0, hotCacheMaxBytes: 1_600 }).markUsedEveryMs).toBe(250);
  });

  it('keeps hot renders within the budget, each at most a sixteenth of it, touching the store as often as renders in use', () => {
    expect(apiSizing({ storeEvictGraceMs: 60_000, hotCacheMaxBytes: 64 * 1024 ** 2 }).hot).toEqual({
      maxBytes: 64 * 1024 ** 2,
      maxEntryBytes: 4 * 1024 ** 2,
      storeTouchEveryMs: 20_000,
    });
    expect(apiSizing({ storeEvictGraceMs: 60_000, hotCacheMaxBytes: 1_000 }).hot.maxEntryBytes).toBe(62);
    expect(apiSizing({ storeEvictGraceMs: 60_000, hotCacheMaxBytes: 0 }).hot.maxEntryBytes).toBe(0);
  });
});

describe('startApi', () => {
  // Short: without the check it would wait on a Redis nobody named.
  it('rejects with RedisUrlMissing when REDIS_URL is not set', { timeout: 5_000 }, async () => {
    const config = parseConfig({ LOG_LEVEL: 'silent' });
    expect(config.redisUrl).toBeUndefined();
    await expect(startApi(config)).rejects.toBeInstanceOf(RedisUrlMissing);
  });
});

describe('close()', { sequential: true }, () => {
  let redis: TestRedis;
  let probe: Redis;
  let api: TestApi | undefined;

  beforeAll(async () => {
    redis = await startTestRedis();
    probe = new Redis(redis.url);
  });
  // Also after a failed test, so the next one's app never replaces one left running.
  afterEach(async () => {
    await api?.stop();
    api = undefined;
  });
  afterAll(async () => {
    probe?.disconnect();
    await redis?.stop();
  });

  /** Names of the Redis clients connected now, as Redis itself lists them. */
  async function clientNames(): Promise<string[]> {
    const list = (await probe.client('LIST')) as string;
    return [...list.matchAll(/ name=(\S*)/g)].map((match) => match[1] ?? '');
  }

  it("closes the app's Redis connections and leaves no request waiting", async () => {
    api = await buildTestApi({}, { redis });
    const { renderQueue } = api.app;
    expect(renderQueue.commands.status).toBe('ready');
    expect(await clientNames()).toEqual(expect.arrayContaining(['api', 'api-events']));

    await api.stop();

    expect(renderQueue.commands.status).toBe('end');
    expect(renderQueue.waiter.waiting).toBe(0);
    // Redis's own view: no connection of this API is left (a quit may take a moment to reach the server).
    await eventually(
      async () => ((await clientNames()).some((name) => name.startsWith('api')) ? undefined : true),
      'the API connections to leave Redis',
      5_000,
    );
  });

  it('answers a request waiting on a render 503 with Retry-After when the API closes', async () => {
    api = await buildTestApi({ WAIT_TIMEOUT_MS: '20000' }, { redis });
    const { app, stop } = api;
    // No worker: the miss waits on its render until the API closes.
    const answer = app.inject({ method: 'GET', url: '/segments/demo/tones/10-20.mp3' });
    await eventually(async () => (app.renderQueue.waiter.waiting === 1 ? true : undefined), 'the request to wait on its render');

    const closed = stop();
    const response = await answer;
    await closed;

    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 503, detail: expect.stringMatching(/shutting down/) });
    expect(app.renderQueue.waiter.waiting).toBe(0);
  });
});
