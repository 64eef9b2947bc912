// Owns following renders as they happen, for the events streams: the process's one QueueEvents
// subscription (shared with the waiter), with one listener per event name, fanned out through a map from
// job id to the streams following it. A stream costs a map entry, never a listener on the shared emitter.
import type { QueueEvents } from 'bullmq';
import type { RenderFailure } from '../render/render-failure.js';
import type { FailureMemory } from './failure-memory.js';
import { progressPercent } from './render-job.js';

export type RenderEvent =
  | { type: 'queued' }
  | { type: 'active' }
  | { type: 'progress'; percent: number }
  | { type: 'completed' }
  | { type: 'failed'; failure: RenderFailure };

export interface RenderEvents {
  /** Calls `listener` with every event of this job id until the returned function is called. */
  subscribe(id: string, listener: (event: RenderEvent) => void): () => void;
  close(): void;
}

export function createRenderEvents(events: QueueEvents, failures: Pick<FailureMemory, 'failureOf'>): RenderEvents {
  const byId = new Map<string, Set<(event: RenderEvent) => void>>();

  function emit(id: string, event: RenderEvent): void {
    for (const listener of byId.get(id) ?? []) listener(event);
  }

  const handlers = {
    // waiting: added, or back in line after a stalled worker; delayed: a retry's backoff after a passing fault.
    waiting: ({ jobId }: { jobId: string }) => emit(jobId, { type: 'queued' }),
    delayed: ({ jobId }: { jobId: string }) => emit(jobId, { type: 'queued' }),
    active: ({ jobId }: { jobId: string }) => emit(jobId, { type: 'active' }),
    progress: ({ jobId, data }: { jobId: string; data: unknown }) => {
      const percent = progressPercent(data);
      if (percent !== undefined) emit(jobId, { type: 'progress', percent });
    },
    completed: ({ jobId }: { jobId: string }) => emit(jobId, { type: 'completed' }),
    // Read only when a stream follows the job: the record, not the event's text, says how it failed.
    failed: ({ jobId }: { jobId: string }) => {
      if (byId.has(jobId)) void failures.failureOf(jobId).then((failure) => emit(jobId, { type: 'failed', failure }));
    },
  };
  // Each handler under its event's name: the same list to listen with and to stop listening with.
  const names = Object.keys(handlers) as Array<keyof typeof handlers>;
  for (const name of names) events.on(name, handlers[name] as never);

  return {
    subscribe(id, listener) {
      const listeners = byId.get(id) ?? new Set();
      byId.set(id, listeners);
      listeners.add(listener);
      let subscribed = true;
      return () => {
        if (!subscribed) return;
        subscribed = false;
        listeners.delete(listener);
        if (listeners.size === 0 && byId.get(id) === listeners) byId.delete(id);
      };
    },
    close() {
      for (const name of names) events.off(name, handlers[name] as never);
      byId.clear();
    },
  };
}
