// Owns the contract between the API and the workers: the queue's name, the job payload (defined once,
// imported by both sides), the job options, and how a failure travels back as an HTTP status.
import type { JobsOptions } from 'bullmq';
import type { RenderOptions } from '../segments/render-options.js';
import type { SegmentPlan } from '../segments/segment-plan.js';

export const QUEUE_NAME = 'segment-renders';
export const JOB_NAME = 'render';

export interface RenderJobData {
  /** The render key; also the job id. */
  key: string;
  /** Decoded source path segments below MEDIA_ROOT (each worker resolves them under its own root). */
  source: string[];
  /** Source identity the key was made from; the worker refuses a file that changed since. */
  sourceSize: number;
  sourceMtimeMs: number;
  sampleRate: number;
  startMs: number;
  endMs: number;
  options: RenderOptions;
  /** The request that caused the job, so worker log lines can be joined with the API's. */
  requestId: string;
}

/** The job for a planned segment of a source with this identity, caused by this request. */
export function renderJobFor(
  plan: SegmentPlan,
  source: string[],
  identity: { size: number; mtimeMs: number },
  requestId: string,
): RenderJobData {
  return {
    key: plan.key,
    source,
    sourceSize: identity.size,
    sourceMtimeMs: identity.mtimeMs,
    sampleRate: plan.spec.sampleRate,
    startMs: plan.spec.startMs,
    endMs: plan.spec.endMs,
    options: plan.spec.options,
    requestId,
  };
}

/**
 * A job's progress (job.updateProgress, the 'progress' event) is a whole percent of the segment's length
 * written by ffmpeg, 0-99; anything else there (nothing reported yet) reads as no percent.
 */
export function progressPercent(progress: unknown): number | undefined {
  return typeof progress === 'number' && Number.isInteger(progress) && progress >= 0 && progress <= 100 ? progress : undefined;
}

export interface RenderResult {
  /** False when the store already held the key (a duplicate job after a race): no ffmpeg ran. */
  rendered: boolean;
  bytes: number;
  /** When rendered: its mode and how long it took (ffmpeg to publish), for the API's duration histogram. */
  mode?: RenderOptions['mode'];
  renderMs?: number;
}

/**
 * Completed jobs are removed at once: the store is the record of success, and a kept completed job would
 * make add() ignore a re-render after the store evicted the file. Failed jobs are removed too, so the next
 * request for a failed key renders again (bad sources rarely get here: the API probes them first and
 * answers 422 without a job); the requests waiting at the time get the failure through the 'failed' event.
 */
export const RENDER_JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: true,
  attempts: 3,
  backoff: { type: 'fixed', delay: 250 },
};

/** Seconds the requests waiting on a render that failed on a passing fault are told to wait (Retry-After). */
export const FAILURE_RETRY_AFTER_SECONDS = 5;

/** What a failed job tells the requests waiting on it. */
export interface RenderFailure {
  status: 422 | 503;
  detail: string;
}

const FAILURE_MARK = 'render-failure:';

export function encodeFailure(failure: RenderFailure): string {
  return `${FAILURE_MARK}${JSON.stringify(failure)}`;
}

/** The failure a worker encoded in `reason`; undefined for anything else (a stalled job, a crash). */
export function readFailure(reason: string | undefined): RenderFailure | undefined {
  if (!reason?.startsWith(FAILURE_MARK)) return undefined;
  try {
    const failure = JSON.parse(reason.slice(FAILURE_MARK.length)) as RenderFailure;
    if ((failure.status === 422 || failure.status === 503) && typeof failure.detail === 'string') return failure;
  } catch {
    // not a worker's encoding after all
  }
  return undefined;
}

/** Anything not encoded by a worker (a stalled job, a crash) is a passing fault: 503, try again. */
export function decodeFailure(reason: string | undefined): RenderFailure {
  return readFailure(reason) ?? { status: 503, detail: 'The render failed on a passing fault; try again in a few seconds.' };
}
