// Owns what is known of a render by its id (the render key, which is also its job id): done when the store
// holds it, queued or rendering (with ffmpeg's percent) while its job exists, failed while its failure is
// remembered. Completed and failed jobs are removed from BullMQ at once (render-job.ts), so the store and
// the failure memory are the record of how a render ended.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RenderMetadata, RenderStore } from '../store/render-store.js';
import { recentFailure } from './failure-memory.js';
import { decodeFailure, progressPercent, type RenderFailure, type RenderJobData, type RenderResult } from './render-job.js';
import { QueueUnreachable } from './render-requester.js';

export type RenderState =
  | { status: 'queued' }
  | { status: 'rendering'; percent?: number }
  | { status: 'done'; render: RenderMetadata }
  | { status: 'failed'; failure: RenderFailure };

export interface RenderStatus {
  /** The render's state now; null for an id this service has no record of. Rejects with QueueUnreachable. */
  read(id: string): Promise<RenderState | null>;
}

export function createRenderStatus(deps: {
  queue: Pick<Queue<RenderJobData, RenderResult>, 'getJob'>;
  store: Pick<RenderStore, 'metadata'>;
  redis: Redis;
}): RenderStatus {
  async function fromQueue(id: string): Promise<RenderState | null> {
    const job = await deps.queue.getJob(id);
    const state = job ? await job.getState() : 'unknown';
    if (!job || state === 'unknown' || state === 'completed') return null;
    if (state === 'active') return { status: 'rendering', percent: progressPercent(job.progress) };
    if (state === 'failed') return { status: 'failed', failure: decodeFailure(job.failedReason) };
    // waiting, prioritized, delayed (a retry's backoff), waiting-children
    return { status: 'queued' };
  }

  return {
    async read(id) {
      const stored = await deps.store.metadata(id);
      if (stored) return { status: 'done', render: stored };
      try {
        const queued = await fromQueue(id);
        if (queued) return queued;
        const failure = await recentFailure(deps.redis, id);
        if (failure) return { status: 'failed', failure };
      } catch (error) {
        throw new QueueUnreachable(error);
      }
      // The job may have completed (and been removed) between the first look at the store and the queue's.
      const late = await deps.store.metadata(id);
      return late ? { status: 'done', render: late } : null;
    },
  };
}
