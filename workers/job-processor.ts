// Owns what a worker does with a queue job: the render and peaks processors wired to the store, the failure
// memory, the frame indexes and the sources (MEDIA_ROOT, or the HTTP origin that ffmpeg then reads by its
// pinned URL), and the dispatch by job name. The worker process and the tests' in-process worker build it here,
// so the two cannot drift apart.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../src/config.js';
import { frameIndexDir } from '../src/data-layout.js';
import { httpInputOptions, type MediaTools } from '../src/media/ffmpeg.js';
import type { SourceFile } from '../src/media/source-file.js';
import { localReaders } from '../src/media/source-reader.js';
import { createPeaksRecords } from '../src/peaks/peaks-records.js';
import { createBackgroundLane } from '../src/queue/background-lane.js';
import { createFailureMemory } from '../src/queue/failure-memory.js';
import { createRenderStreams } from '../src/queue/render-streams.js';
import { createWaitingCount } from '../src/queue/waiting-count.js';
import type { RenderInput } from '../src/render/render-args.js';
import { createFrameIndexes } from '../src/render/frame-indexes.js';
import type { OriginClient } from '../src/sources/origin-client.js';
import type { RenderStore } from '../src/store/render-store.js';
import type { StoreBudget } from '../src/store/store-budget.js';
import { createPeaksJobProcessor } from '../src/use-cases/process-peaks-job.js';
import { createRenderJobProcessor } from '../src/use-cases/process-render-job.js';
import { createQueueJobProcessor } from '../src/use-cases/process-queue-job.js';

export interface WorkerJobDeps {
  config: Config;
  redis: Redis;
  media: MediaTools;
  store: RenderStore;
  budget: StoreBudget;
  /** Real path of MEDIA_ROOT (not read with an origin). */
  mediaRoot: string;
  origin?: OriginClient;
  logger: Logger;
}

export function createWorkerJobProcessor(deps: WorkerJobDeps) {
  const { config, redis, media, origin, logger } = deps;
  /**
   * A decode (peaks) of an origin source, or a render its index gives no bytes for (a copy the sample cut
   * declines, an exact render with no span): ffmpeg reads it by its pinned URL, seeking by Range.
   */
  const remoteInput = origin
    ? async (source: SourceFile): Promise<RenderInput> => {
        const input = await origin.ffmpegInput(source.file);
        return { file: input.url, openOptions: httpInputOptions(input.headers, config.mediaOrigin!.timeoutMs) };
      }
    : undefined;
  const sources = origin ? { origin, remoteInput } : {};
  const failures = createFailureMemory(redis);
  const render = createRenderJobProcessor({
    media,
    store: deps.store,
    budget: deps.budget,
    mediaRoot: deps.mediaRoot,
    ...sources,
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
  const peaks = createPeaksJobProcessor({
    media,
    // Beside the frame indexes: whoever mounts the store shares them.
    records: createPeaksRecords({ dir: frameIndexDir(config.dataDir) }),
    failures,
    mediaRoot: deps.mediaRoot,
    ...sources,
    renderTimeoutMs: config.renderTimeoutMs,
    logger,
  });
  return createQueueJobProcessor({ render, peaks });
}
