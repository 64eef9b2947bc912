// The queue depth the miss path sees, read from a real Redis (a private redis-server for this file).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueDepth } from '../../../src/queue/queue-depth.js';
import type { ManagedProcess } from '../../../src/stack/managed-process.js';
import { startPrivateRedis } from '../../../src/stack/private-redis.js';
import { ensurePrograms } from '../../../src/stack/system-tools.js';

let dir: string;
let redis: ManagedProcess;
let queue: Queue;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'queue-depth-'));
  const programs = ensurePrograms(['redis-server'], () => undefined);
  const started = await startPrivateRedis({ program: programs['redis-server']!, dataDir: dir, sink: () => undefined });
  redis = started.process;
  queue = new Queue('queue-depth-test', { connection: { url: started.url } });
});
afterAll(async () => {
  await queue?.close();
  await redis?.stop(5_000);
  await rm(dir, { recursive: true, force: true });
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

  it('adds the jobs this process added since the last reading, so a burst cannot overshoot the limit', async () => {
    let clock = 1_000;
    const depth = createQueueDepth(queue, { maxAgeMs: 200, now: () => clock });
    const before = await depth.current();
    for (const id of ['c', 'd', 'e']) {
      await queue.add('render', {}, { jobId: id });
      depth.added();
    }
    expect(await depth.current()).toBe(before + 3);
    clock += 200;
    // A fresh reading holds them itself: they are not counted twice.
    expect(await depth.current()).toBe(before + 3);
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
