// Owns the contract between the API and the workers: the queue's name, the job payload (one type, built
// once by the API from a segment's plan and read once by the worker), the job's result, its options, and
// what a job's progress holds. How a job failed is not in the job: see failure-memory.ts.
import type { JobsOptions } from 'bullmq';
import type { RenderMode, RenderSpec } from '../render/render-spec.js';
import type { SourceIdentity } from '../segments/render-key.js';
import type { SegmentPlan } from '../segments/segment-plan.js';

export const QUEUE_NAME = 'segment-renders';
export const JOB_NAME = 'render';

export interface RenderJob {
  /** The render key; also the job id. */
  key: string;
  /** The source as the key was made from it: each worker resolves the path under its own MEDIA_ROOT and
   * refuses a file whose size or mtime changed since. */
  source: SourceIdentity;
  spec: RenderSpec;
  /** The request that caused the job, so worker log lines can be joined with the API's. */
  requestId: string;
}

/** The job for a planned segment, caused by this request. */
export function renderJobFor(plan: SegmentPlan, requestId: string): RenderJob {
  return { key: plan.key, source: plan.source, spec: plan.spec, requestId };
}

/**
 * A job's progress (job.updateProgress, the 'progress' event) is a whole percent of the segment's length
 * written by ffmpeg, 0-99; anything else there (nothing reported yet) reads as no percent.
 */
export function progressPercent(progress: unknown): number | undefined {
  return typeof progress === 'number' && Number.isInteger(progress) && progress >= 0 && progress <= 100 ? progress : undefined;
}

export interface RenderResult {
  /** False when the store already held the key (a duplicate job after a race), or when skipped: no ffmpeg ran. */
  rendered: boolean;
  /** True when every request that waited for it had gone and nothing else owned it (waiting-count.ts). */
  skipped?: boolean;
  bytes: number;
  /** When rendered: its mode and how long it took (ffmpeg to publish), for the API's duration histogram. */
  mode?: RenderMode;
  renderMs?: number;
  /** When rendered: how long the job waited from its add to a worker taking it, for the API's histogram. */
  queuedMs?: number;
}

/**
 * Completed jobs are removed at once: the store is the record of success, and a kept completed job would
 * make add() ignore a re-render after the store evicted the file. Failed jobs are removed too, so the next
 * request for a failed key renders again (bad sources rarely get here: the API probes them first and
 * answers 422 without a job); the requests waiting at the time get the failure through the 'failed' event
 * and the failure memory. A passing fault (I/O, resources, a killed tool: media/fault-kind.ts) is tried
 * again after 250 ms, then 500 ms: a fault that lasts is not hammered, and a waiting request still gets its
 * render well within WAIT_TIMEOUT_MS when the fault passes.
 */
export const RENDER_JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: true,
  attempts: 3,
  backoff: { type: 'exponential', delay: 250 },
};
