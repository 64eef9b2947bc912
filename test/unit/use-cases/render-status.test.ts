// What GET /renders/{id} knows of a render, read from a real Redis (a private redis-server for this file): a
// real Queue, a real Worker where a job must be active, the real failure memory; the store is a stand-in.
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFailureMemory, type FailureMemory } from '../../../src/queue/failure-memory.js';
import { connectRedis } from '../../../src/queue/redis-connection.js';
import { JOB_NAME, QUEUE_NAME, RENDER_JOB_OPTIONS, type RenderJob, type RenderResult } from '../../../src/queue/render-job.js';
import type { RenderFailure } from '../../../src/render/render-failure.js';
import { RETRY_AFTER } from '../../../src/retry-after.js';
import type { RenderMetadata, RenderStore } from '../../../src/store/render-store.js';
import { createRenderStatus } from '../../../src/use-cases/render-status.js';
import { QueueUnreachable } from '../../../src/use-cases/request-render.js';
import { freshKey, testRenderJob } from '../../helpers/render-queue.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let commands: Redis;
let failures: FailureMemory;
let queue: Queue<RenderJob, RenderResult>;

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
  failures = createFailureMemory(commands);
  queue = new Queue<RenderJob, RenderResult>(QUEUE_NAME, { connection: { url: redis.url } });
});
afterAll(async () => {
  await queue?.close();
  commands?.disconnect();
  await redis?.stop();
});

function metadataOf(key: string): RenderMetadata {
  return {
    key,
    source: 'demo/tones',
    startMs: 10_000,
    endMs: 20_000,
    mode: 'copy',
    options: { mode: 'copy' },
    bytes: 160_000,
    durationSeconds: 10,
    renderedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** The store as the status reads it: the metadata of the keys it holds (answers in turn, when given a list). */
function storeHolding(renders: Record<string, RenderMetadata | (RenderMetadata | null)[]> = {}): Pick<RenderStore, 'metadata'> {
  return {
    async metadata(key) {
      const held = renders[key];
      if (Array.isArray(held)) return held.length > 1 ? held.shift()! : (held[0] ?? null);
      return held ?? null;
    },
  };
}

function addJob(key: string, options: { delay?: number } = {}) {
  return queue.add(JOB_NAME, testRenderJob(key), { ...RENDER_JOB_OPTIONS, ...options, jobId: key });
}

const SOURCE_TOO_SHORT: RenderFailure = { status: 422, detail: 'The source ends before 20 s.', permanent: true };

describe('render status', () => {
  it('is done with its metadata when the store holds the render, even while its job is still queued', async () => {
    const key = freshKey();
    await addJob(key);
    const status = createRenderStatus({ queue, store: storeHolding({ [key]: metadataOf(key) }), failures });
    expect(await status.read(key)).toStrictEqual({ status: 'done', render: metadataOf(key) });
  });

  it('is done when the render lands in the store while its job is being looked up (its job then removed)', async () => {
    const key = freshKey();
    const status = createRenderStatus({ queue, store: storeHolding({ [key]: [null, metadataOf(key)] }), failures });
    expect(await status.read(key)).toStrictEqual({ status: 'done', render: metadataOf(key) });
  });

  it('is queued while its job waits for a worker', async () => {
    const key = freshKey();
    await addJob(key);
    expect(await createRenderStatus({ queue, store: storeHolding(), failures }).read(key)).toStrictEqual({ status: 'queued' });
  });

  it("is queued while its job waits out a retry's backoff (delayed)", async () => {
    const key = freshKey();
    await addJob(key, { delay: 60_000 });
    expect(await createRenderStatus({ queue, store: storeHolding(), failures }).read(key)).toStrictEqual({ status: 'queued' });
  });

  it('is rendering, with the percent its worker reported, while a worker has its job', async () => {
    const key = freshKey();
    let reported!: () => void;
    const progressReported = new Promise<void>((resolve) => {
      reported = resolve;
    });
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const worker = new Worker<RenderJob, RenderResult>(
      QUEUE_NAME,
      async (job: Job<RenderJob, RenderResult>) => {
        // Jobs other tests left waiting are done at once; this test's job stays active until released.
        if (job.id === key) {
          await job.updateProgress(40);
          reported();
          await finished;
        }
        return { rendered: true, bytes: 1 };
      },
      { connection: { url: redis.url } },
    );
    try {
      await addJob(key);
      await progressReported;
      expect(await createRenderStatus({ queue, store: storeHolding(), failures }).read(key)).toStrictEqual({
        status: 'rendering',
        percent: 40,
      });
    } finally {
      finish();
      await worker.close();
    }
  });

  it('is failed with the failure remembered when the render failed for good (its job already removed)', async () => {
    const key = freshKey();
    await failures.record(key, SOURCE_TOO_SHORT);
    expect(await createRenderStatus({ queue, store: storeHolding(), failures }).read(key)).toStrictEqual({
      status: 'failed',
      failure: SOURCE_TOO_SHORT,
    });
  });

  it('is unknown (null) after a passing failure: asking again renders it', async () => {
    const key = freshKey();
    await failures.record(key, { status: 503, detail: 'The render ran out of time; retry.', permanent: false });
    expect(await createRenderStatus({ queue, store: storeHolding(), failures }).read(key)).toBeNull();
  });

  it('is unknown (null) for an id the service has no record of', async () => {
    expect(await createRenderStatus({ queue, store: storeHolding(), failures }).read(freshKey())).toBeNull();
  });

  it('rejects with QueueUnreachable (503) at once when Redis cannot be read', async () => {
    let lost: TestRedis | undefined = await startTestRedis();
    const connection = connectRedis(lost.url, 'fail-fast', 'render-status-test');
    connection.on('error', () => undefined);
    const cutOff = new Queue<RenderJob, RenderResult>(QUEUE_NAME, { connection });
    cutOff.on('error', () => undefined);
    try {
      await cutOff.waitUntilReady();
      await lost.stop();
      lost = undefined;
      const status = createRenderStatus({ queue: cutOff, store: storeHolding(), failures: createFailureMemory(connection) });
      const started = performance.now();
      const error = await status.read(freshKey()).catch((caught: unknown) => caught);
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(error).toBeInstanceOf(QueueUnreachable);
      expect(error).toMatchObject({ status: 503, retryAfterSeconds: RETRY_AFTER.queueUnreachable });
    } finally {
      await cutOff.close();
      connection.disconnect();
      await lost?.stop();
    }
  });
});
