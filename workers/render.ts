// The render of one job, as an ordered list of steps: skip if stored, refuse a key that just failed, resolve
// the source, build ffmpeg's arguments, run ffmpeg into a temp file, check the result, publish it
// atomically, count it.
// The error thrown states the retry policy: UnrecoverableError fails the job for good (a source ffmpeg
// cannot cut); a plain Error is retried (a passing fault).
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ServiceError } from '../src/errors.js';
import { FfmpegFailed, FfmpegKilled, FfmpegTimedOut, type MediaTools } from '../src/media/ffmpeg.js';
import {
  clearGaplessTrim,
  mp3FrameSeconds,
  readFrameChain,
  readGaplessInfo,
  removeJunkBetweenFrames,
  setGaplessPadding,
} from '../src/media/mp3-frame.js';
import { buildRenderArguments, copyLengthMs, exactSampleCount, type RenderInput, type RenderSpec } from '../src/media/render-args.js';
import { countRender } from '../src/observability/render-counter.js';
import { recentFailure, rememberFailure } from '../src/queue/failure-memory.js';
import { decodeFailure, encodeFailure, type RenderJobData, type RenderResult } from '../src/queue/render-job.js';
import { resolveSource, type ResolvedSource } from '../src/sources/resolve-source.js';
import type { RenderStore } from '../src/store/render-store.js';
import type { StoreBudget } from '../src/store/store-budget.js';
import type { FrameIndexes } from './frame-indexes.js';
import { throttledPercent } from './render-progress.js';

export interface RenderDeps {
  media: MediaTools;
  store: RenderStore;
  budget: StoreBudget;
  /** Real path of MEDIA_ROOT. */
  mediaRoot: string;
  redis: Redis;
  frameIndexes: FrameIndexes;
  renderTimeoutMs: number;
  logger: Logger;
}

/** Fails the job for good and tells the waiting requests why, with this status. */
function permanent(status: 422 | 503, detail: string): UnrecoverableError {
  return new UnrecoverableError(encodeFailure({ status, detail }));
}

async function resolveUnchanged(deps: RenderDeps, data: RenderJobData): Promise<ResolvedSource> {
  let source: ResolvedSource;
  try {
    source = await resolveSource(deps.mediaRoot, data.source);
  } catch (error) {
    throw permanent(503, error instanceof ServiceError ? error.detail : 'The source cannot be opened now; retry.');
  }
  // The key was made from this identity; a replaced file must get a new key, not old key + new bytes.
  if (source.size !== data.sourceSize || source.mtimeMs !== data.sourceMtimeMs) {
    throw permanent(503, 'The source file changed while the segment was being prepared; retry to render it from the new file.');
  }
  return source;
}

/**
 * The output must be MP3 whose length matches the ask: within 3 frames when copying (frames as they are),
 * within 2 ms when re-encoding (its LAME tag's delay and padding give the gapless length). A copy asked
 * shorter than two frames is given two. Read in-process: an ffprobe per render cost as much as a short
 * copy itself (17 ms of 36 ms).
 */
async function checkOutput(temp: string, spec: RenderSpec): Promise<CheckedRender> {
  const chain = await readFrameChain(temp).catch(() => null);
  if (!chain || chain.sampleRate !== spec.sampleRate)
    throw permanent(422, 'The render of this source is not readable MP3; the file may be damaged.');
  const frame = mp3FrameSeconds(spec.sampleRate);
  const asked = (spec.options.mode === 'copy' ? copyLengthMs(spec) : spec.endMs - spec.startMs) / 1000;
  const gapless = spec.options.mode === 'exact' ? await readGaplessInfo(temp) : null;
  const got = gapless?.durationSeconds ?? chain.durationSeconds;
  const tolerance = spec.options.mode === 'copy' ? 3 * frame : 0.002;
  if (!(Math.abs(got - asked) <= tolerance)) {
    throw permanent(
      422,
      `The source could not be cut accurately there (got ${got.toFixed(3)} s of the ${asked.toFixed(3)} s asked); the file may be damaged.`,
    );
  }
  return { durationSeconds: got, bytes: chain.bytes };
}

/** A render that passed its check: its playing length and its size. */
export interface CheckedRender {
  durationSeconds: number;
  bytes: number;
}

/** What the steps that make the bytes need: no queue, store or Redis. */
export type RenderTools = Pick<RenderDeps, 'media' | 'renderTimeoutMs' | 'frameIndexes'>;

async function runFfmpeg(
  deps: RenderTools,
  input: RenderInput,
  temp: string,
  spec: RenderSpec,
  log: Logger,
  onProgress?: (seconds: number) => void,
): Promise<void> {
  try {
    await deps.media.render(temp, buildRenderArguments(spec, input), { timeoutMs: deps.renderTimeoutMs, onProgress });
  } catch (error) {
    if (error instanceof FfmpegTimedOut) {
      // Not retried: a render that hung once would most likely hang again and hold a worker each time.
      // The waiting requests get 503 + Retry-After; a later request tries once more (failed jobs are removed).
      log.warn({ timeoutMs: error.timeoutMs }, 'ffmpeg killed at its time limit');
      throw permanent(503, 'Rendering took longer than allowed; retry later.');
    }
    if (error instanceof FfmpegKilled) {
      log.warn({ err: error.message }, 'ffmpeg did not run to its end; the job will be retried');
      throw error;
    }
    if (error instanceof FfmpegFailed && /No space left on device/i.test(error.stderrTail)) {
      // The store's disk is full: a passing fault (eviction or an operator frees space), retried.
      log.error({ stderr: error.stderrTail }, 'the render store is out of disk space');
      throw new Error(encodeFailure({ status: 503, detail: 'The render store is out of disk space; retry later.' }));
    }
    if (error instanceof FfmpegFailed) {
      log.warn({ stderr: error.stderrTail }, 'ffmpeg failed');
      throw permanent(422, 'ffmpeg could not read or cut this source; the file may be damaged or not MP3.');
    }
    throw error;
  }
}

/**
 * The steps that make the bytes, without the queue or the store: run ffmpeg into `temp`, post-process,
 * check. Returns the output's duration and size. Exported so `segments render` renders locally exactly as a worker
 * does; failures are UnrecoverableErrors carrying an encoded RenderFailure, or plain errors (passing faults).
 */
export async function renderChecked(
  deps: RenderTools,
  source: ResolvedSource,
  temp: string,
  spec: RenderSpec,
  log: Logger,
  onProgress?: (seconds: number) => void,
): Promise<CheckedRender> {
  // A copy cuts by byte offset when the source is a clean frame chain (its index built on its first copy).
  const input: RenderInput = { file: source.file, cut: spec.options.mode === 'copy' ? await deps.frameIndexes.cutFor(source, spec) : null };
  await runFfmpeg(deps, input, temp, spec, log, onProgress);
  if (spec.options.mode === 'exact') await setGaplessPadding(temp, exactSampleCount(spec));
  else {
    // Frames cut by the index come from a proven clean chain: only ffmpeg's own seek can copy junk along.
    if (!input.cut) await removeJunkBetweenFrames(temp);
    await clearGaplessTrim(temp);
  }
  return checkOutput(temp, spec);
}

/** Counts the new render against STORE_MAX_BYTES; past it, the least recently used renders go. */
async function keepWithinBudget(deps: RenderDeps, bytes: number, log: Logger): Promise<void> {
  // The render is published either way: a failed count or pass is logged, and the next pass catches up.
  const pass = await deps.budget.published(bytes).catch((error: Error) => log.warn({ err: error.message }, 'store budget pass failed'));
  if (pass && (pass.removed > 0 || pass.overBudgetBytes > 0)) log.info(pass, 'store pruned to its budget');
}

/** The same answer as a failure remembered from a moment ago; not remembered again, so it expires. */
class RecentFailure extends UnrecoverableError {}

/** A key that failed for good a moment ago fails again at once, with the same answer, without ffmpeg. */
async function refuseRecentFailure(deps: RenderDeps, key: string): Promise<void> {
  const failure = await recentFailure(deps.redis, key);
  if (failure) throw new RecentFailure(encodeFailure(failure));
}

/** ffmpeg's progress as the job's (GET /renders/{id}, its events): a rising percent, at most every 250 ms. */
function reportProgress(job: Job<RenderJobData, RenderResult>, spec: RenderSpec, log: Logger): (seconds: number) => void {
  return throttledPercent({
    totalMs: spec.endMs - spec.startMs,
    minIntervalMs: 250,
    // Progress is only informative: a failed write must not fail the render.
    report: (percent) =>
      void job.updateProgress(percent).catch((error: Error) => log.debug({ err: error.message }, 'progress not recorded')),
  });
}

export function createRenderProcessor(deps: RenderDeps) {
  return async function render(job: Job<RenderJobData, RenderResult>): Promise<RenderResult> {
    try {
      return await renderJob(deps, job);
    } catch (error) {
      if (error instanceof UnrecoverableError && !(error instanceof RecentFailure))
        await rememberFailure(deps.redis, job.data.key, decodeFailure(error.message)).catch(() => undefined);
      throw error;
    }
  };
}

async function renderJob(deps: RenderDeps, job: Job<RenderJobData, RenderResult>): Promise<RenderResult> {
  const { data } = job;
  const log = deps.logger.child({ jobId: job.id, requestId: data.requestId, attempt: job.attemptsMade + 1 });
  // Both asked at once: one wait instead of two on every miss.
  const [stored, refused] = await Promise.allSettled([deps.store.open(data.key), refuseRecentFailure(deps, data.key)]);
  if (stored.status === 'rejected') throw stored.reason;
  if (stored.value) {
    // A duplicate job after a race (the first one finished and was removed): nothing to do.
    await stored.value.handle.close();
    return { rendered: false, bytes: stored.value.size };
  }
  if (refused.status === 'rejected') throw refused.reason;
  const source = await resolveUnchanged(deps, data);
  const spec: RenderSpec = { startMs: data.startMs, endMs: data.endMs, options: data.options, sampleRate: data.sampleRate };
  const temp = await deps.store.tempPathFor(data.key);
  const started = performance.now();
  let bytes = 0;
  try {
    const checked = await renderChecked(deps, source, temp, spec, log, reportProgress(job, spec, log));
    bytes = checked.bytes;
    await deps.store.publish(temp, {
      key: data.key,
      source: source.name,
      startMs: spec.startMs,
      endMs: spec.endMs,
      mode: spec.options.mode,
      options: spec.options,
      bytes,
      durationSeconds: checked.durationSeconds,
      renderedAt: new Date().toISOString(),
    });
  } catch (error) {
    await deps.store.discard(temp);
    throw error;
  }
  const renderMs = Math.round(performance.now() - started);
  log.info({ mode: spec.options.mode, source: source.name, bytes, ms: renderMs }, 'rendered');
  // The bookkeeping of a published render, in one round trip: its waiters are answered only after it.
  await Promise.all([countRender(deps.redis, spec.options.mode), keepWithinBudget(deps, bytes, log)]);
  // Mode and time travel in the 'completed' event to every API process's histogram (render-durations.ts).
  return { rendered: true, bytes, mode: spec.options.mode, renderMs };
}
