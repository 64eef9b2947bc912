// Owns what a worker does with a job from the render queue: the job's name says what it asks for (a
// segment's render, or a source's peaks) and which processor, and payload type, it goes to.
import type { Job } from 'bullmq';
import { PEAKS_JOB_NAME, type PeaksJob, type PeaksResult } from '../queue/peaks-job.js';
import type { RenderJob, RenderResult } from '../queue/render-job.js';
import type { PeaksJobHandle } from './process-peaks-job.js';
import type { RenderJobHandle } from './process-render-job.js';

export type QueueJobData = RenderJob | PeaksJob;
export type QueueJobResult = RenderResult | PeaksResult;
export type QueueJob = Job<QueueJobData, QueueJobResult>;

export function createQueueJobProcessor(processors: {
  render: (job: RenderJobHandle) => Promise<RenderResult>;
  peaks: (job: PeaksJobHandle) => Promise<PeaksResult>;
}): (job: QueueJob) => Promise<QueueJobResult> {
  // The API adds each name with its own payload (request-render.ts, use-cases/obtain-peaks.ts).
  return (job) => (job.name === PEAKS_JOB_NAME ? processors.peaks(job as PeaksJobHandle) : processors.render(job as RenderJobHandle));
}
