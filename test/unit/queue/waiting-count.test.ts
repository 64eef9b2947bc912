// Who waits on each render, counted in Redis across API processes: when a render counts as abandoned.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderStreams } from '../../../src/queue/render-streams.js';
import { createWaitingCount, type WaitingCount } from '../../../src/queue/waiting-count.js';
import { freshKey } from '../../helpers/render-queue.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let commands: Redis;
let count: WaitingCount;

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
  count = createWaitingCount(commands);
});
afterAll(async () => {
  commands?.disconnect();
  await redis?.stop();
});

/** Where a job's hash would be: any hash will do for the count, which only reads its priority. */
const jobHash = (key: string) => `test-jobs:${key}`;

describe('the waiting count', () => {
  it('tells the count, whether a job exists under the key, and its priority: null when there is none or a worker took it', async () => {
    const key = freshKey();
    expect(await count.joined(key, jobHash(key))).toEqual({
      counted: true,
      waiters: 1,
      queuedPriority: null,
      streamFile: null,
      jobExists: false,
    });
    await commands.hset(jobHash(key), 'priority', '21');
    expect(await count.joined(key, jobHash(key))).toEqual({
      counted: true,
      waiters: 2,
      queuedPriority: 21,
      streamFile: null,
      jobExists: true,
    });
    // Once a worker took the job there is nothing left to move ahead.
    await commands.hset(jobHash(key), 'processedOn', String(Date.now()));
    expect(await count.joined(key, jobHash(key))).toEqual({
      counted: true,
      waiters: 3,
      queuedPriority: null,
      streamFile: null,
      jobExists: true,
    });
  });

  it('tells with the count the file a render under way is written into, as its worker announced it', async () => {
    const key = freshKey();
    await createRenderStreams(commands).announce(key, 'being-written.mp3', 10_000);
    expect(await count.joined(key, jobHash(key))).toMatchObject({ counted: true, streamFile: 'being-written.mp3' });
    await createRenderStreams(commands).ended(key, 'being-written.mp3');
    expect(await count.joined(key, jobHash(key))).toMatchObject({ streamFile: null });
  });

  it('calls a render abandoned only once every request counted in has left', async () => {
    const key = freshKey();
    expect((await count.joined(key, jobHash(key))).counted).toBe(true);
    expect((await count.joined(key, jobHash(key))).counted).toBe(true);
    await count.left(key);
    expect(await count.abandoned(key)).toBe(false);
    await count.left(key);
    expect(await count.abandoned(key)).toBe(true);
    expect((await count.joined(key, jobHash(key))).counted).toBe(true);
    expect(await count.abandoned(key)).toBe(false);
  });

  it('never calls abandoned a render no request was counted for (a count lost or never written)', async () => {
    expect(await count.abandoned(freshKey())).toBe(false);
  });

  it('never calls abandoned a render an asynchronous or background ask owns', async () => {
    const key = freshKey();
    await count.joined(key, jobHash(key));
    await count.own(key);
    await count.left(key);
    expect(await count.abandoned(key)).toBe(false);
  });

  it('expires its counts, so a crashed API leaves none behind for long', async () => {
    const key = freshKey();
    await count.joined(key, jobHash(key));
    await count.own(key);
    const ttls = await Promise.all([commands.ttl(`mp3-segments:waiters:${key}`), commands.ttl(`mp3-segments:owned:${key}`)]);
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(3_600);
  });

  it('answers joined false, and never throws, when Redis cannot be reached', async () => {
    const away = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const key = freshKey();
    expect(await createWaitingCount(away).joined(key, jobHash(key))).toEqual({
      counted: false,
      waiters: 0,
      queuedPriority: null,
      streamFile: null,
      jobExists: false,
    });
    away.disconnect();
  });
});
