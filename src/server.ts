// The API process: configuration, connections, listen on the API port, graceful shutdown.
import { Queue, QueueEvents } from 'bullmq';
import { buildApp } from './app.js';
import { loadConfigOrExit } from './config.js';
import { createMediaToolsOrExit } from './media/ffmpeg.js';
import { createLogger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { readRenderCounts } from './observability/render-counter.js';
import { observeRenderDurations } from './observability/render-durations.js';
import { readWorkerRestarts } from './observability/worker-restarts.js';
import { connectRedis } from './queue/redis-connection.js';
import { QUEUE_NAME, type RenderJobData, type RenderResult } from './queue/render-job.js';
import { createQueueDepth } from './queue/queue-depth.js';
import { createRenderRequester } from './queue/render-requester.js';
import { createRenderWaiter } from './queue/render-waiter.js';
import { createRenderEvents } from './queue/render-events.js';
import { createRenderStatus } from './queue/render-status.js';
import { createCatalog } from './sources/catalog.js';
import { createSourceList } from './sources/source-list.js';
import { createRenderStore } from './store/render-store.js';
import { createHotRenders } from './store/hot-renders.js';
import { createRenderReader } from './store/render-reader.js';
import { createRendersInUse } from './store/renders-in-use.js';
import { readStoreBytes } from './store/store-budget.js';
import { storeDir } from './data-layout.js';

const LISTEN_BACKLOG = 4_096;
const config = loadConfigOrExit();
const logger = createLogger('api', config.logLevel);
if (!config.redisUrl) {
  logger.fatal('REDIS_URL is not set: the API joins an existing Redis (npm start sets it for the processes it starts)');
  process.exit(78);
}

const media = await createMediaToolsOrExit({
  ffmpegPath: config.ffmpegPath,
  ffprobePath: config.ffprobePath,
  probeTimeoutMs: config.probeTimeoutMs,
});
const catalog = await createCatalog({ mediaRoot: config.mediaRoot, probe: media.probe });
const sourceList = await createSourceList({ mediaRoot: config.mediaRoot, catalog });
const store = createRenderStore({ dir: storeDir(config.dataDir) });
const commands = connectRedis(config.redisUrl, 'fail-fast', 'api');
const queue = new Queue<RenderJobData, RenderResult>(QUEUE_NAME, { connection: commands });
const events = new QueueEvents(QUEUE_NAME, { connection: connectRedis(config.redisUrl, 'blocking', 'api-events') });
queue.on('error', (error) => logger.warn({ err: error.message }, 'queue connection error'));
events.on('error', (error) => logger.warn({ err: error.message }, 'queue events connection error'));
// Completions are read from the stream from the moment this resolves; only then may requests wait.
await events.waitUntilReady();
const waiter = createRenderWaiter(events);
// The events streams of /renders/{id}/events follow renders through the same subscription.
const renderEvents = createRenderEvents(events);
// Read from Redis at most every 200 ms however many misses (and scrapes) arrive: one round trip shared by all.
const queueDepth = createQueueDepth(queue, { maxAgeMs: 200 });
const requester = createRenderRequester({
  queue,
  waiter,
  store,
  queueDepth,
  waitTimeoutMs: config.waitTimeoutMs,
  maxWaitingRequests: config.maxWaitingRequests,
  maxQueueDepth: config.maxQueueDepth,
});
const metrics = createMetrics({
  renderCounts: () => readRenderCounts(commands),
  waitingRequests: () => waiter.waiting,
  queueDepth: () => queueDepth.current(),
  workerRestarts: () => readWorkerRestarts(commands),
  storeBytes: () => readStoreBytes(commands),
});
// From the completions the waiter's subscription already receives: no Redis round trip per render.
observeRenderDurations(events, metrics.observeRender);

async function missingForReadiness(): Promise<string[]> {
  try {
    await commands.ping();
  } catch {
    return ['Redis does not answer'];
  }
  const workers = await queue.getWorkersCount().catch(() => 0);
  return workers > 0 ? [] : ['no worker process is connected to render'];
}

// Renders in use are marked as used well inside the eviction grace, so the store never removes them.
const markUsedEveryMs = Math.max(250, Math.floor(config.storeEvictGraceMs / 3));
// A sixteenth of the budget per render at most: one long render cannot push out every hot one.
const hot = createHotRenders({
  maxBytes: config.hotCacheMaxBytes,
  maxEntryBytes: Math.floor(config.hotCacheMaxBytes / 16),
  storeTouchEveryMs: markUsedEveryMs,
});

const app = await buildApp({
  logger,
  catalog,
  sourceList,
  renders: createRenderReader({ store, hot }),
  rendersInUse: createRendersInUse(store, { refreshMs: markUsedEveryMs }),
  requester,
  metrics,
  missingForReadiness,
  maxSegmentSeconds: config.maxSegmentSeconds,
  cacheMaxAgeSeconds: config.cacheMaxAgeSeconds,
  signingKey: config.signingKey,
  renderStatus: createRenderStatus({ queue, store, redis: commands }),
  renderEvents,
  admin: config.adminToken ? { token: config.adminToken, queues: [queue] } : undefined,
});
// A deep accept queue: a burst of new connections (10,000 players at once, the bench's crowd) otherwise
// overflows Node's default 511 and some clients see their connection reset.
await app.listen({ host: '127.0.0.1', port: config.apiPort, backlog: LISTEN_BACKLOG });
process.send?.({ type: 'ready', port: config.apiPort });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, waiting: waiter.waiting }, 'stopping: waiting requests get 503 + Retry-After, renders go on in the workers');
  waiter.close();
  await app.close();
  renderEvents.close();
  await events.close();
  await queue.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
