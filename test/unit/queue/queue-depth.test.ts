// The queue depth the miss path sees, read from a real Redis (a private redis-server for this file).
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueDepth } from '../../../src/queue/queue-depth.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let queue: Queue;

beforeAll(async () => {
  redis = await startTestRedis();
  queue = new Queue('queue-depth-test', { connection: { url: redis.url } });
});
afterAll(async () => {
  await queue?.close();
  await redis?.stop();
});

describe('queue depth', () => {
  it('counts the jobs waiting for a worker, read again once the reading is older than maxAgeMs', async () => {
    let clock = 0;
    const depth = createQueueDepth(queue, { maxAgeMs: 200, now: () => clock });
    expect(await depth.current()).toBe(0);
    await queue.add('render', {}, { jobId: 'a' });
    await queue.add('render', {}, { jobId: 'b', delay: 60_000 });
    // Still the first reading: nothing this process told it about.
    expect(await depth.current()).toBe(0);
    clock = 200;
    expect(await depth.current()).toBe(2);
  });

  it('adds the jobs this process admitted since the last reading, so a burst cannot overshoot the limit', async () => {
    let clock = 1_000;
    const depth = createQueueDepth(queue, { maxAgeMs: 200, now: () => clock });
    const before = await depth.current();
    for (const id of ['c', 'd', 'e']) {
      expect(await depth.admit(before + 10)).toBe(true);
      await queue.add('render', {}, { jobId: id });
    }
    expect(await depth.current()).toBe(before + 3);
    clock += 200;
    // A fresh reading holds them itself: they are not counted twice.
    expect(await depth.current()).toBe(before + 3);
  });

  it('admits no more than the limit from a burst of concurrent misses, on a fresh reading or a shared one', async () => {
    let clock = 5_000;
    const depth = createQueueDepth(queue, { maxAgeMs: 200, now: () => clock });
    const queued = await depth.current();
    const limit = queued + 8;
    const admittedOf = async () => (await Promise.all(Array.from({ length: 50 }, () => depth.admit(limit)))).filter(Boolean).length;
    // All 50 on the reading just taken, then all 50 sharing the next Redis reading.
    expect(await admittedOf()).toBe(8);
    clock += 200;
    expect(await admittedOf()).toBe(8);
  });

  it('shares one Redis reading among concurrent callers', async () => {
    let reads = 0;
    const counted: Pick<Queue, 'getJobCounts'> = {
      getJobCounts: (...types) => {
        reads += 1;
        return queue.getJobCounts(...types);
      },
    };
    const depth = createQueueDepth(counted, { maxAgeMs: 200 });
    const readings = await Promise.all(Array.from({ length: 50 }, () => depth.current()));
    expect(new Set(readings).size).toBe(1);
    expect(reads).toBe(1);
  });
});
