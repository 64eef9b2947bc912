// Owns the API as one value: startApi(config) builds the Fastify app, its connections to the queue as a
// plugin that closes them itself (http/plugins/render-queue.ts), and the use cases wired over them. It
// never listens and touches no process globals: server.ts listens and handles signals, tests call it and
// drive the app with inject().
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createApp, registerRoutes } from './app.js';
import type { Config } from './config.js';
import { frameIndexDir, storeDir } from './data-layout.js';
import { within } from './deadline.js';
import { createFrameIndexes } from './render/frame-indexes.js';
import { renderQueuePlugin } from './http/plugins/render-queue.js';
import { createMediaTools } from './media/ffmpeg.js';
import { createLogger } from './observability/logger.js';
import { createPeaksRecords } from './peaks/peaks-records.js';
import { PEAKS_JOB_NAME } from './queue/peaks-job.js';
import { createMetrics } from './observability/metrics.js';
import { readRenderCounts, readSkippedRenders } from './observability/render-counter.js';
import { createBackgroundLane, createWorkerCount } from './queue/background-lane.js';
import { createClientShares } from './queue/client-shares.js';
import { queueDepthByClass } from './queue/queue-depth.js';
import { observeRenderDurations } from './observability/render-durations.js';
import { readWorkerRestarts } from './observability/worker-restarts.js';
import { localReaders } from './media/source-reader.js';
import { createOriginClient } from './sources/origin-client.js';
import { createCatalog } from './sources/catalog.js';
import { createSourceList, ORIGIN_SOURCE_LIST } from './sources/source-list.js';
import { createHotRenders } from './store/hot-renders.js';
import { createRenderFollower } from './store/growing-render.js';
import { createRenderReader } from './store/render-reader.js';
import { createRenderStore } from './store/render-store.js';
import { createRendersInUse } from './store/renders-in-use.js';
import { readStoreBytes } from './store/store-budget.js';
import { createRenderStatus } from './use-cases/render-status.js';
import { createRenderRequester } from './use-cases/request-render.js';

export interface Api {
  app: FastifyInstance;
  /** Ends waiting requests with 503, answers the rest, then closes the connections. */
  close(): Promise<void>;
}

/** The API joins a Redis it is given (npm start starts one and sets REDIS_URL for the processes it starts). */
export class RedisUrlMissing extends Error {
  constructor() {
    super('REDIS_URL is not set: the API joins an existing Redis (npm start sets it for the processes it starts)');
    this.name = 'RedisUrlMissing';
  }
}

/** Each of /readyz's two Redis reads waits this long at most: the probe answers within a second. */
const READINESS_DEADLINE_MS = 450;

/** The sizes the API derives from its configuration. */
export function apiSizing(config: Pick<Config, 'storeEvictGraceMs' | 'hotCacheMaxBytes'>) {
  // Renders in use are marked as used well inside the eviction grace, so the store never removes them.
  const markUsedEveryMs = Math.max(250, Math.floor(config.storeEvictGraceMs / 3));
  return {
    markUsedEveryMs,
    hot: {
      maxBytes: config.hotCacheMaxBytes,
      // A sixteenth of the budget per render at most: one long render cannot push out every hot one.
      maxEntryBytes: Math.floor(config.hotCacheMaxBytes / 16),
      storeTouchEveryMs: markUsedEveryMs,
    },
  };
}

/**
 * The API built from its configuration. Rejects with RedisUrlMissing or media/ffmpeg.ts's
 * ToolNotExecutable when it cannot run (server.ts exits 78 on those), closing whatever it opened.
 */
export async function startApi(config: Config, options: { logger?: Logger } = {}): Promise<Api> {
  if (!config.redisUrl) throw new RedisUrlMissing();
  const logger = options.logger ?? createLogger('api', config.logLevel);
  const media = await createMediaTools({
    ffmpegPath: config.ffmpegPath,
    ffprobePath: config.ffprobePath,
    probeTimeoutMs: config.probeTimeoutMs,
  });
  const origin = config.mediaOrigin ? createOriginClient(config.mediaOrigin) : undefined;
  const catalog = await createCatalog({
    mediaRoot: config.mediaRoot,
    ...(origin ? { origin } : {}),
    probe: media.probe,
    // Read (or built and recorded) to describe a source, not kept: the catalog keeps the description.
    frameIndexes: createFrameIndexes({ maxBytes: 0, dir: frameIndexDir(config.dataDir), readers: origin ?? localReaders }),
  });
  const sourceList = origin ? ORIGIN_SOURCE_LIST : await createSourceList({ mediaRoot: config.mediaRoot, catalog });
  const store = createRenderStore({
    dir: storeDir(config.dataDir),
    // Said, not silent (issue 14): a power loss or a hand cut a render short; it is made again when next asked.
    onDamaged: (damaged) => logger.warn(damaged, 'a stored render was not as long as its facts say: removed'),
  });
  const sizing = apiSizing(config);

  const app = createApp(logger);
  try {
    await app.register(renderQueuePlugin, { redisUrl: config.redisUrl, commandTimeoutMs: config.redisCommandTimeoutMs });
    const { commands, queue, peaksQueue, events, failures, waiter, streams, renderEvents, queueDepth, waitingCount } = app.renderQueue;
    const metrics = createMetrics({
      renderCounts: () => readRenderCounts(commands),
      skippedRenders: () => readSkippedRenders(commands),
      waitingRequests: () => waiter.waiting,
      queueDepth: () => queueDepth.current(),
      queueDepthByClass: () => queueDepthByClass(queue),
      workerRestarts: () => readWorkerRestarts(commands),
      storeBytes: () => readStoreBytes(commands),
      redisAnswers: () => commands.ping(),
    });
    // From the completions the waiter's subscription already receives: no Redis round trip per render.
    observeRenderDurations(events, { render: metrics.observeRender, queueWait: metrics.observeQueueWait });

    // Within a second whatever Redis does: a probe that hangs with a stalled Redis tells nothing.
    async function missingForReadiness(): Promise<string[]> {
      try {
        await within(commands.ping(), READINESS_DEADLINE_MS, 'redis');
      } catch {
        return ['Redis does not answer'];
      }
      const workers = await within(queue.getWorkersCount(), READINESS_DEADLINE_MS, 'redis').catch(() => 0);
      return workers > 0 ? [] : ['no worker process is connected to render'];
    }

    // What every ask for a job shares, segments' renders and sources' peaks alike.
    const requesting = {
      waiter,
      queueDepth,
      waitingCount,
      clientShares: createClientShares(commands),
      // A place is dropped once no render could still hold it: queued for a wait, then rendered.
      backgroundLane: createBackgroundLane(commands, { maxAgeMs: config.waitTimeoutMs + config.renderTimeoutMs }),
      workerCount: createWorkerCount(queue, { maxAgeMs: 1_000 }),
      waitTimeoutMs: config.waitTimeoutMs,
      maxWaitingRequests: config.maxWaitingRequests,
      maxQueueDepth: config.maxQueueDepth,
    };
    const peaksRecords = createPeaksRecords({ dir: frameIndexDir(config.dataDir) });
    await registerRoutes(app, {
      catalog,
      sourceList,
      renders: createRenderReader({ store, hot: createHotRenders(sizing.hot) }),
      rendersInUse: createRendersInUse(store, { refreshMs: sizing.markUsedEveryMs }),
      requester: createRenderRequester({ ...requesting, queue, store }),
      // Peaks jobs go on the same queue, under the same limits and waiters; their output is a record beside
      // the frame indexes (peaks/peaks-records.ts).
      peaksRecords,
      peaksRequester: createRenderRequester({ ...requesting, queue: peaksQueue, jobName: PEAKS_JOB_NAME, store: peaksRecords }),
      // Polled every 20 ms: a render's bytes reach its waiters within that of being written. Idle for a
      // second, a stream looks for a retry's file; idle as long as a wait may last, it fails.
      follow: createRenderFollower(store, streams.fileOf, { pollMs: 20, switchCheckMs: 1_000, idleLimitMs: config.waitTimeoutMs }),
      metrics,
      missingForReadiness,
      maxSegmentSeconds: config.maxSegmentSeconds,
      cacheMaxAgeSeconds: config.cacheMaxAgeSeconds,
      peaksMaxAgeSeconds: config.peaksMaxAgeSeconds,
      signingKey: config.signingKey,
      renderStatus: createRenderStatus({ queue, store, failures, signingKey: config.signingKey }),
      renderEvents,
      admin: config.adminToken ? { token: config.adminToken, queues: [queue] } : undefined,
    });
    await app.ready();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return { app, close: () => app.close() };
}
