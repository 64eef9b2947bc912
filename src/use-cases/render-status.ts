// Owns what is known of a render by its id (the render key, which is also its job id): done when the store
// holds it, queued or rendering (with ffmpeg's percent) while its job exists, failed while its failure is
// remembered. Completed and failed jobs are removed from BullMQ at once (render-job.ts), so the store and
// the failure memory are the record of how a render ended.
import type { Queue } from 'bullmq';
import type { FailureMemory } from '../queue/failure-memory.js';
import { progressPercent, type RenderJob, type RenderResult } from '../queue/render-job.js';
import type { RenderFailure } from '../render/render-failure.js';
import type { RenderMetadata, RenderStore } from '../store/render-store.js';
import { signingKeyFingerprint } from '../segments/url-signature.js';
import { QueueUnreachable } from './request-render.js';

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
  queue: Pick<Queue<RenderJob, RenderResult>, 'getJob'>;
  store: Pick<RenderStore, 'metadata'>;
  failures: Pick<FailureMemory, 'permanent' | 'failureOf'>;
  /** SIGNING_KEY: a stored render made under another key (before a rotation) is no record of this one. */
  signingKey?: string;
}): RenderStatus {
  const currentKey = signingKeyFingerprint(deps.signingKey);
  /**
   * The stored render of `id`, unless a rotated key made it: its status would hand out the segment's URL
   * signed with the current key to whoever held an id of the old one. Renders from before keys were
   * recorded count as unsigned ones.
   */
  async function storedRender(id: string): Promise<RenderMetadata | null> {
    const stored = await deps.store.metadata(id);
    return stored && (stored.signedWith ?? 'unsigned') === currentKey ? stored : null;
  }

  async function fromQueue(id: string): Promise<RenderState | null> {
    const job = await deps.queue.getJob(id);
    const state = job ? await job.getState() : 'unknown';
    if (!job || state === 'unknown' || state === 'completed') return null;
    if (state === 'active') return { status: 'rendering', percent: progressPercent(job.progress) };
    if (state === 'failed') return { status: 'failed', failure: await deps.failures.failureOf(id) };
    // waiting, prioritized, delayed (a retry's backoff), waiting-children
    return { status: 'queued' };
  }

  return {
    async read(id) {
      const stored = await storedRender(id);
      if (stored) return { status: 'done', render: stored };
      try {
        const queued = await fromQueue(id);
        if (queued) return queued;
        const failure = await deps.failures.permanent(id);
        if (failure) return { status: 'failed', failure };
      } catch (error) {
        throw new QueueUnreachable(error);
      }
      // The job may have completed (and been removed) between the first look at the store and the queue's.
      const late = await storedRender(id);
      return late ? { status: 'done', render: late } : null;
    },
  };
}
