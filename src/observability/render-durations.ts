// Owns how an API process learns how long renders took, and waited in the queue: from the 'completed'
// events its one QueueEvents subscription already receives (the worker's return value carries mode and
// milliseconds), so timing a
// render costs no Redis round trip. Every API process receives every completion, so each one's histogram
// covers all renders of the cluster (sum over processes counts each render once per API process).
import type { QueueEvents } from 'bullmq';
import type { RenderResult } from '../queue/render-job.js';
import { RENDER_MODES, type RenderMode } from '../render/render-spec.js';

/** What a render's completion tells: how long it rendered (by mode) and how long it waited in the queue. */
export interface RenderObservers {
  render(mode: RenderMode, seconds: number): void;
  queueWait(seconds: number): void;
}

/** Observes each render a worker ran (not a duplicate job that found the store filled, nor a skipped one). */
export function observeRenderDurations(events: QueueEvents, observe: RenderObservers): () => void {
  const onCompleted = ({ returnvalue }: { returnvalue: unknown }) => {
    // Read defensively: a worker of an older release returns no timing, and the stream is outside input.
    const result = returnvalue as Partial<RenderResult> | null;
    if (!result?.rendered || typeof result.renderMs !== 'number' || !(RENDER_MODES as readonly string[]).includes(result.mode as string))
      return;
    observe.render(result.mode as RenderMode, result.renderMs / 1000);
    if (typeof result.queuedMs === 'number') observe.queueWait(result.queuedMs / 1000);
  };
  events.on('completed', onCompleted);
  return () => events.off('completed', onCompleted);
}
