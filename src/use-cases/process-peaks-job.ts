// Owns a worker's handling of one peaks job, as an ordered list of steps: skip if recorded, refuse a key
// that just failed for good, resolve the source (unchanged since the key was made), decode and bin
// (peaks/source-peaks.ts), publish the record durably. Failures are typed and recorded as a render's are
// (process-render-job.ts): a source ffmpeg refuses is a 422 for good, a time-out a 503, a passing fault retried.
import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { MediaTools } from '../media/ffmpeg.js';
import type { PeaksRecords } from '../peaks/peaks-records.js';
import { computePeaks } from '../peaks/source-peaks.js';
import type { FailureMemory } from '../queue/failure-memory.js';
import type { PeaksJob, PeaksResult } from '../queue/peaks-job.js';
import { asRenderFailure } from '../render/render-pipeline.js';
import { sourceLabel } from '../segments/segment-url.js';
import { isRemote } from '../media/source-file.js';
import type { RenderTools } from '../render/render-pipeline.js';
import { type RenderJobDeps, recordedFailure, resolveUnchanged } from './process-render-job.js';

export interface PeaksJobDeps {
  media: Pick<MediaTools, 'decodePcm'>;
  records: PeaksRecords;
  failures: Pick<FailureMemory, 'record' | 'permanent'>;
  /** Real path of MEDIA_ROOT. */
  mediaRoot: string;
  /** Where sources are when MEDIA_ORIGIN is set: looked up there (process-render-job.ts resolveUnchanged). */
  origin?: RenderJobDeps['origin'];
  /** How ffmpeg opens an origin source (render-pipeline.ts RenderTools): its pinned URL and options. */
  remoteInput?: RenderTools['remoteInput'];
  /** RENDER_TIMEOUT_MS: the decode is an ffmpeg run like a render's. */
  renderTimeoutMs: number;
  logger: Logger;
}

export type PeaksJobHandle = Pick<Job<PeaksJob, PeaksResult>, 'id' | 'data' | 'attemptsMade'>;

export function createPeaksJobProcessor(deps: PeaksJobDeps): (job: PeaksJobHandle) => Promise<PeaksResult> {
  return async function processPeaksJob(job) {
    const log = deps.logger.child({ jobId: job.id, requestId: job.data.requestId, attempt: job.attemptsMade + 1 });
    try {
      return await peaksJob(deps, job.data, log);
    } catch (error) {
      throw await recordedFailure(deps.failures, job.data.key, asRenderFailure(error, log));
    }
  };
}

async function peaksJob(deps: PeaksJobDeps, data: PeaksJob, log: Logger): Promise<PeaksResult> {
  const [stored, refused] = await Promise.all([deps.records.read(data.key), deps.failures.permanent(data.key)]);
  // A duplicate job after a race (the first one finished and was removed): nothing to do.
  if (stored) return { computed: false, length: stored.length };
  // Not recorded again (so it expires): the same answer, without ffmpeg.
  if (refused) throw new UnrecoverableError(refused.detail);
  const source = await resolveUnchanged(deps, data);
  const started = performance.now();
  // An origin source is decoded over HTTP, whole: peaks need every sample, once per source version.
  const input = isRemote(source) && deps.remoteInput ? await deps.remoteInput(source) : { file: source.file };
  const peaks = await computePeaks(
    deps.media,
    { ...input, sampleRate: data.sampleRate, channels: data.channels, durationMs: data.durationMs },
    deps.renderTimeoutMs,
  );
  await deps.records.publish(data.key, peaks);
  const ms = Math.round(performance.now() - started);
  log.info({ source: sourceLabel(source.path), pixels: peaks.length, ms }, 'peaks computed');
  return { computed: true, length: peaks.length, ms };
}
