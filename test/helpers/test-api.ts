// Builds the API in-process for a unit-level test file (the fastify/demo pattern: build with a helper, drive
// with app.inject(), close in teardown): a real Redis, a temp DATA_DIR, a temp MEDIA_ROOT holding a copy of
// the demo media, startApi over them, and optionally an in-process BullMQ Worker running the real render job
// processor (real ffmpeg), so misses get rendered. stop() closes all of it and removes the temp folders.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startApi } from '../../src/api.js';
import { type Config, PROJECT_ROOT, parseConfig } from '../../src/config.js';
import { storeDir } from '../../src/data-layout.js';
import { createMediaTools } from '../../src/media/ffmpeg.js';
import { connectRedis } from '../../src/queue/redis-connection.js';
import { QUEUE_NAME } from '../../src/queue/render-job.js';
import { realMediaRoot } from '../../src/sources/resolve-source.js';
import { createRenderStore } from '../../src/store/render-store.js';
import { createStoreBudget } from '../../src/store/store-budget.js';
import type { QueueJobData, QueueJobResult } from '../../src/use-cases/process-queue-job.js';
import { createWorkerJobProcessor } from '../../workers/job-processor.js';
import { startTestRedis, type TestRedis } from './test-redis.js';

export interface TestApi {
  app: FastifyInstance;
  config: Config;
  redisUrl: string;
  /** Closes the worker (after its current render), the API (close(): waiting requests get 503), Redis if
   * this helper started it, and removes the temp folders. Safe to call twice. */
  stop(): Promise<void>;
}

export interface TestApiOptions {
  /** A Redis of the test file's own, kept running by stop(). It is emptied first: the queue's name is fixed,
   * so jobs left by an earlier app of the file must not reach this one's worker. Without it, a private
   * Redis is started and stopped with the app. */
  redis?: TestRedis;
  /** Also run an in-process worker (concurrency 1) with the real render job processor. */
  worker?: boolean;
}

/** `env` is merged over the helper's own (REDIS_URL, DATA_DIR, MEDIA_ROOT, LOG_LEVEL=silent). */
export async function buildTestApi(env: Record<string, string> = {}, options: TestApiOptions = {}): Promise<TestApi> {
  const redis = options.redis ?? (await startTestRedis());
  const ownsRedis = options.redis === undefined;
  const root = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-api-'));
  const cleanups: (() => Promise<unknown>)[] = [
    async () => {
      if (ownsRedis) await redis.stop();
    },
    () => rm(root, { recursive: true, force: true }),
  ];
  async function stop(): Promise<void> {
    // Last opened, first closed; each one once, even after a failure.
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) await cleanup().catch(() => undefined);
  }

  try {
    if (!ownsRedis) {
      const flusher = new Redis(redis.url);
      await flusher.flushall().finally(() => flusher.disconnect());
    }
    const mediaRoot = path.join(root, 'media');
    await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(mediaRoot, 'demo'), { recursive: true });
    const config = parseConfig({
      REDIS_URL: redis.url,
      DATA_DIR: path.join(root, 'data'),
      MEDIA_ROOT: mediaRoot,
      LOG_LEVEL: 'silent',
      ...env,
    });
    if (options.worker) cleanups.push(await startTestWorker(config));
    const api = await startApi(config);
    cleanups.push(() => api.close());
    return { app: api.app, config, redisUrl: redis.url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The worker process's job processor (workers/job-processor.ts), in this process; returns its closer. */
async function startTestWorker(config: Config): Promise<() => Promise<void>> {
  const connection = connectRedis(config.redisUrl!, 'blocking', 'test-worker');
  const store = createRenderStore({ dir: storeDir(config.dataDir) });
  const media = await createMediaTools({
    ffmpegPath: config.ffmpegPath,
    ffprobePath: config.ffprobePath,
    probeTimeoutMs: config.probeTimeoutMs,
  });
  const mediaRoot = await realMediaRoot(config.mediaRoot);
  const budget = createStoreBudget({ store, redis: connection, maxBytes: config.storeMaxBytes, graceMs: config.storeEvictGraceMs });
  const logger = pino({ level: 'silent' });
  const processJob = createWorkerJobProcessor({ config, redis: connection, media, store, budget, mediaRoot, logger });
  const worker = new Worker<QueueJobData, QueueJobResult>(QUEUE_NAME, processJob, {
    connection,
    concurrency: 1,
    lockDuration: config.jobLockMs,
  });
  // Connection errors while Redis stops at the end are expected; an unhandled 'error' would fail the file.
  worker.on('error', () => undefined);
  await worker.waitUntilReady();
  return async () => {
    await worker.close();
    await connection.quit().catch(() => connection.disconnect());
  };
}
