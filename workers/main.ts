// The worker process: wires one BullMQ Worker, one job at a time, to the render job processor
// (src/use-cases/process-render-job.ts) and the peaks job processor (src/use-cases/process-peaks-job.ts). ffmpeg runs as its child; the stack starts this process in its own
// process group so that killing the group leaves no orphan ffmpeg.
import { Worker } from 'bullmq';
import { loadConfigOrExit } from '../src/config.js';
import { frameIndexDir, storeDir } from '../src/data-layout.js';
import { createMediaToolsOrExit, httpInputOptions } from '../src/media/ffmpeg.js';
import { createLogger } from '../src/observability/logger.js';
import { connectRedis } from '../src/queue/redis-connection.js';
import { createFailureMemory } from '../src/queue/failure-memory.js';
import { QUEUE_NAME } from '../src/queue/render-job.js';
import { createBackgroundLane } from '../src/queue/background-lane.js';
import { createRenderStreams } from '../src/queue/render-streams.js';
import { createWaitingCount } from '../src/queue/waiting-count.js';
import { createFrameIndexes } from '../src/render/frame-indexes.js';
import type { SourceFile } from '../src/media/source-file.js';
import { localReaders } from '../src/media/source-reader.js';
import type { RenderInput } from '../src/render/render-args.js';
import { createOriginClient } from '../src/sources/origin-client.js';
import { realMediaRoot } from '../src/sources/resolve-source.js';
import { createRenderStore } from '../src/store/render-store.js';
import { createStoreBudget } from '../src/store/store-budget.js';
import { createPeaksRecords } from '../src/peaks/peaks-records.js';
import { createPeaksJobProcessor } from '../src/use-cases/process-peaks-job.js';
import { createRenderJobProcessor } from '../src/use-cases/process-render-job.js';
import { createQueueJobProcessor, type QueueJobData, type QueueJobResult } from '../src/use-cases/process-queue-job.js';

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
/** An exact render of an origin source: ffmpeg reads it by its pinned URL, seeking by Range (media/ffmpeg.ts). */
const remoteInput = origin
  ? async (source: SourceFile): Promise<RenderInput> => {
      const input = await origin.ffmpegInput(source.file);
      return { file: input.url, openOptions: httpInputOptions(input.headers, config.mediaOrigin!.timeoutMs) };
    }
  : undefined;
const failures = createFailureMemory(redis);
const processRenderJob = createRenderJobProcessor({
  media,
  store,
  budget,
  mediaRoot,
  ...(origin ? { origin, remoteInput } : {}),
  redis,
  failures,
  signingKey: config.signingKey,
  waitingCount: createWaitingCount(redis),
  streams: createRenderStreams(redis),
  backgroundLane: createBackgroundLane(redis, { maxAgeMs: 3_600_000 }),
  frameIndexes: createFrameIndexes({
    maxBytes: config.frameIndexMaxBytes,
    dir: frameIndexDir(config.dataDir),
    readers: origin ?? localReaders,
  }),
  renderTimeoutMs: config.renderTimeoutMs,
  logger,
});

const processPeaksJob = createPeaksJobProcessor({
  media,
  // Beside the frame indexes: whoever mounts the store shares them.
  records: createPeaksRecords({ dir: frameIndexDir(config.dataDir) }),
  failures,
  mediaRoot,
  ...(origin ? { origin, remoteInput } : {}),
  renderTimeoutMs: config.renderTimeoutMs,
  logger,
});

const processJob = createQueueJobProcessor({ render: processRenderJob, peaks: processPeaksJob });
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
