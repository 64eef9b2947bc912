// The worker process: wires one BullMQ Worker, one job at a time, to the job processor (job-processor.ts:
// render and peaks jobs). ffmpeg runs as its child; the stack starts this process in its own process group
// so that killing the group leaves no orphan ffmpeg.
import { Worker } from 'bullmq';
import { loadConfigOrExit } from '../src/config.js';
import { storeDir } from '../src/data-layout.js';
import { createMediaToolsOrExit } from '../src/media/ffmpeg.js';
import { createLogger } from '../src/observability/logger.js';
import { connectRedis } from '../src/queue/redis-connection.js';
import { QUEUE_NAME } from '../src/queue/render-job.js';
import { createOriginClient } from '../src/sources/origin-client.js';
import { realMediaRoot } from '../src/sources/resolve-source.js';
import { createRenderStore } from '../src/store/render-store.js';
import { createStoreBudget } from '../src/store/store-budget.js';
import type { QueueJobData, QueueJobResult } from '../src/use-cases/process-queue-job.js';
import { createWorkerJobProcessor } from './job-processor.js';

const config = loadConfigOrExit();
const logger = createLogger('worker', config.logLevel);
if (!config.redisUrl) {
  logger.fatal('REDIS_URL is not set: workers join an existing Redis (npm start sets it for the processes it starts)');
  process.exit(78);
}

const redis = connectRedis(config.redisUrl, 'blocking', 'worker');
const store = createRenderStore({
  dir: storeDir(config.dataDir),
  // Said, not silent (issue 14): a power loss or a hand cut a render short; it is made again when next asked.
  onDamaged: (damaged) => logger.warn(damaged, 'a stored render was not as long as its facts say: removed'),
});
// A worker of this machine that died without its supervisor (a machine crash, a kill -9 of the stack) left its temp files.
await store.removeOrphanTemps();
const budget = createStoreBudget({ store, redis, maxBytes: config.storeMaxBytes, graceMs: config.storeEvictGraceMs });
const media = await createMediaToolsOrExit({
  ffmpegPath: config.ffmpegPath,
  ffprobePath: config.ffprobePath,
  probeTimeoutMs: config.probeTimeoutMs,
});
const origin = config.mediaOrigin ? createOriginClient(config.mediaOrigin) : undefined;
// With an origin, MEDIA_ROOT is not read (and need not exist).
const mediaRoot = origin ? config.mediaRoot : await realMediaRoot(config.mediaRoot);
const processJob = createWorkerJobProcessor({ config, redis, media, store, budget, mediaRoot, origin, logger });
const worker = new Worker<QueueJobData, QueueJobResult>(QUEUE_NAME, processJob, {
  connection: redis,
  concurrency: 1,
  // A worker that dies keeps its job locked for this long; then the stalled check hands the job to another.
  lockDuration: config.jobLockMs,
  stalledInterval: Math.max(500, Math.floor(config.jobLockMs / 2)),
  maxStalledCount: 2,
});
worker.on('failed', (job, error) => logger.warn({ jobId: job?.id, requestId: job?.data.requestId, err: error.message }, 'render failed'));
worker.on('error', (error) => logger.warn({ err: error.message }, 'worker connection error'));
await worker.waitUntilReady();
// The store's true size (files may have been added or removed while no worker ran); prunes it if past its budget.
const reconciled = await budget.reconcile().catch((error: Error) => logger.warn({ err: error.message }, 'store budget check failed'));
logger.info({ lockMs: config.jobLockMs, storeBytes: reconciled?.totalBytes }, 'worker ready');
process.send?.({ type: 'ready' });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping: finishing the current render');
  await worker.close();
  await redis.quit().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// Started by `npm start` (an IPC channel): a parent that died, even by SIGKILL, closes the channel; stop
// rather than live on as an orphan holding our port and Redis (src/stack/orphan-guard.ts). Under systemd
// there is no channel and this never fires.
process.on('disconnect', () => void shutdown('disconnect'));
