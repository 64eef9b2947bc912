// Owns a worker's handling of one render job, as an ordered list of steps: skip if stored, refuse a key
// that just failed for good, resolve the source (unchanged since the key was made), render and check
// (render/render-pipeline.ts), publish atomically, count. A failure is recorded once, as a typed
// RenderFailure, in the failure memory; the error thrown to BullMQ states only the retry policy:
// UnrecoverableError fails the job for good, a plain Error is retried.
import path from 'node:path';
import { type Job, UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ServiceError, Unavailable } from '../errors.js';
import { countRender, countSkippedRender } from '../observability/render-counter.js';
import type { BackgroundLane } from '../queue/background-lane.js';
import type { FailureMemory } from '../queue/failure-memory.js';
import type { RenderJob, RenderResult } from '../queue/render-job.js';
import type { RenderStreams } from '../queue/render-streams.js';
import { isInteractivePriority } from '../queue/render-priority.js';
import type { WaitingCount } from '../queue/waiting-count.js';
import { passingFailure, permanentFailure, RenderFailed } from '../render/render-failure.js';
import { type RenderHooks, type RenderTools, renderChecked } from '../render/render-pipeline.js';
import { throttledPercent } from '../render/render-progress.js';
import type { RenderSpec } from '../render/render-spec.js';
import { sourceLabel, sourcePathFor } from '../segments/segment-url.js';
import { signingKeyFingerprint } from '../segments/url-signature.js';
import type { OriginClient } from '../sources/origin-client.js';
import { type ResolvedSource, resolveSource } from '../sources/resolve-source.js';
import type { RenderStore } from '../store/render-store.js';
import type { StoreBudget } from '../store/store-budget.js';

export interface RenderJobDeps extends RenderTools {
  store: RenderStore;
  budget: StoreBudget;
  failures: FailureMemory;
  /** Who still waits on each render (queue/waiting-count.ts). */
  waitingCount: Pick<WaitingCount, 'abandoned'>;
  /** Where waiting requests find a render being written, to stream it (queue/render-streams.ts). */
  streams: Pick<RenderStreams, 'announce' | 'ended'>;
  /** Background renders' places: each job frees its key's when it ends (queue/background-lane.ts). */
  backgroundLane: Pick<BackgroundLane, 'free'>;
  /** Real path of MEDIA_ROOT. */
  mediaRoot: string;
  /** Where sources are when MEDIA_ORIGIN is set (sources/origin-client.ts): looked up there, not under mediaRoot. */
  origin?: Pick<OriginClient, 'resolve'>;
  /** Where render counts are kept (render-counter.ts). */
  redis: Redis;
  logger: Logger;
  /** SIGNING_KEY, whose fingerprint each render records: status answers only renders of the current key. */
  signingKey?: string;
}

/** The part of a BullMQ job the processor reads: a test can hand it a plain object. */
export type RenderJobHandle = Pick<Job<RenderJob, RenderResult>, 'id' | 'data' | 'attemptsMade' | 'updateProgress'> &
  Partial<Pick<Job<RenderJob, RenderResult>, 'priority' | 'timestamp'>>;

/** A key that failed for good a moment ago: the same answer again, without ffmpeg and not recorded again, so it expires. */
class RefusedAgain extends UnrecoverableError {}

export function createRenderJobProcessor(deps: RenderJobDeps): (job: RenderJobHandle) => Promise<RenderResult> {
  return async function processRenderJob(job) {
    try {
      return await renderJob(deps, job);
    } catch (error) {
      throw await recordedFailure(deps.failures, job.data.key, error);
    } finally {
      // Made, skipped or failed: a background render's place is free for the next (a retry runs without one).
      void deps.backgroundLane.free(job.data.key).catch(() => undefined);
    }
  };
}

/**
 * What a job's failure becomes for BullMQ: a RenderFailed is recorded first (the API reads the record when
 * the 'failed' event reaches it), then thrown as its retry policy (UnrecoverableError: for good); anything
 * else as it is (retried as a passing fault). Peaks jobs fail the same way (process-peaks-job.ts).
 */
export async function recordedFailure(failures: Pick<FailureMemory, 'record'>, key: string, error: unknown): Promise<unknown> {
  if (!(error instanceof RenderFailed)) return error;
  await failures.record(key, error.failure).catch(() => undefined);
  return error.failure.permanent ? new UnrecoverableError(error.failure.detail) : new Error(error.failure.detail);
}

async function renderJob(deps: RenderJobDeps, job: RenderJobHandle): Promise<RenderResult> {
  const { key, spec, requestId } = job.data;
  // From its add (its first, for a retry) to now: the time in the queue, for the API's histogram.
  const queuedMs = job.timestamp === undefined ? undefined : Math.max(0, Date.now() - job.timestamp);
  const log = deps.logger.child({ jobId: job.id, requestId, attempt: job.attemptsMade + 1 });
  // A render only waiting clients asked for may have lost them all while it was queued: then it is skipped.
  const mayBeAbandoned = job.priority !== undefined && isInteractivePriority(job.priority);
  // All asked at once: one wait instead of three on every miss.
  const [stored, refused, abandoned] = await Promise.allSettled([
    deps.store.open(key),
    deps.failures.permanent(key),
    mayBeAbandoned ? deps.waitingCount.abandoned(key) : Promise.resolve(false),
  ]);
  if (stored.status === 'rejected') throw stored.reason;
  if (stored.value) {
    // A duplicate job after a race (the first one finished and was removed): nothing to do.
    await stored.value.handle.close();
    return { rendered: false, bytes: stored.value.size };
  }
  if (abandoned.status === 'fulfilled' && abandoned.value) {
    log.info('skipped: every request that waited for this render has gone');
    await countSkippedRender(deps.redis).catch(() => undefined); // a count only: the skip stands
    return { rendered: false, bytes: 0, skipped: true };
  }
  if (refused.status === 'rejected') throw refused.reason;
  if (refused.value) throw new RefusedAgain(refused.value.detail);
  const source = await resolveUnchanged(deps, job.data);
  const temp = await deps.store.tempPathFor(key);
  const started = performance.now();
  let bytes = 0;
  // Only an exact render announces its file: a copy (most misses) then owes Redis no end of stream either.
  let announced = false;
  const hooks: RenderHooks = {
    onProgress: reportProgress(job, spec, log),
    onWriting: () => {
      announced = true;
      return announceStream(deps, job, temp, log);
    },
  };
  try {
    const checked = await renderChecked(deps, source, temp, spec, log, hooks);
    bytes = checked.bytes;
    await deps.store.publish(temp, {
      key,
      // The metadata file names its source as URLs do (purge and status read it back as such).
      source: sourcePathFor(source.path),
      startMs: spec.startMs,
      endMs: spec.endMs,
      mode: spec.options.mode,
      options: spec.options,
      bytes,
      durationSeconds: checked.durationSeconds,
      ...(checked.cut ? { cut: checked.cut } : {}),
      signedWith: signingKeyFingerprint(deps.signingKey),
      renderedAt: new Date().toISOString(),
    });
  } catch (error) {
    await deps.store.discard(temp);
    throw error;
  } finally {
    if (announced) void deps.streams.ended(key, path.basename(temp)).catch(() => undefined);
  }
  const renderMs = Math.round(performance.now() - started);
  // debug: the request that waited logs its one line (outcome miss, its time); durations are in /metrics.
  log.debug({ mode: spec.options.mode, source: sourceLabel(source.path), bytes, ms: renderMs }, 'rendered');
  // The bookkeeping of a published render, in one round trip: its waiters are answered only after it.
  await Promise.all([countRender(deps.redis, spec.options.mode), keepWithinBudget(deps, bytes, log)]);
  // Mode and time travel in the 'completed' event to every API process's histogram (render-durations.ts).
  return { rendered: true, bytes, mode: spec.options.mode, renderMs, queuedMs };
}

/** The source the key was made from; a replaced file must get a new key, not old key + new bytes. */
export async function resolveUnchanged(
  deps: Pick<RenderJobDeps, 'mediaRoot' | 'origin'>,
  job: Pick<RenderJob, 'source'>,
): Promise<ResolvedSource> {
  let source: ResolvedSource;
  try {
    source = await (deps.origin ? deps.origin.resolve(job.source.path) : resolveSource(deps.mediaRoot, job.source.path));
  } catch (error) {
    // The origin failed after its own retries: the job's retries may find it back.
    if (error instanceof Unavailable && deps.origin) throw passingFailure(error.detail);
    throw permanentFailure(503, error instanceof ServiceError ? error.detail : 'The source cannot be opened now; retry.');
  }
  if (source.size !== job.source.size || source.mtimeMs !== job.source.mtimeMs || source.validator !== job.source.validator) {
    throw permanentFailure(503, 'The source file changed while the segment was being prepared; retry to render it from the new file.');
  }
  return source;
}

/** Counts the new render against STORE_MAX_BYTES; past it, the least recently used renders go. */
async function keepWithinBudget(deps: RenderJobDeps, bytes: number, log: Logger): Promise<void> {
  // The render is published either way: a failed count or pass is logged, and the next pass catches up.
  const pass = await deps.budget.published(bytes).catch((error: Error) => log.warn({ err: error.message }, 'store budget pass failed'));
  if (pass && (pass.removed > 0 || pass.overBudgetBytes > 0)) log.info(pass, 'store pruned to its budget');
}

/**
 * Names the file the render is being written into and reports 0 %, which tells every API process whose
 * requests wait on it that it can be followed (render-waiter.ts). Only a speed-up: when Redis fails it,
 * the waiters get the render when it is published.
 */
async function announceStream(deps: RenderJobDeps, job: RenderJobHandle, temp: string, log: Logger): Promise<void> {
  try {
    await deps.streams.announce(job.data.key, path.basename(temp), deps.renderTimeoutMs);
    await job.updateProgress(0);
  } catch (error) {
    log.debug({ err: (error as Error).message }, 'the render cannot be followed while it is written');
  }
}

/** ffmpeg's progress as the job's (GET /renders/{id}, its events): a rising percent, at most every 250 ms. */
function reportProgress(job: RenderJobHandle, spec: RenderSpec, log: Logger): (seconds: number) => void {
  return throttledPercent({
    totalMs: spec.endMs - spec.startMs,
    minIntervalMs: 250,
    // Progress is only informative: a failed write must not fail the render.
    report: (percent) =>
      void job.updateProgress(percent).catch((error: Error) => log.debug({ err: error.message }, 'progress not recorded')),
  });
}
