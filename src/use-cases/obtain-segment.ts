// Owns a segment asked for by a client that waits for its bytes: plan it, take the stored render (from
// memory when hot) or ask for its render and wait, and count how it was obtained (segment_requests_total).
import { Unavailable } from '../errors.js';
import type { Metrics, SegmentOutcome } from '../observability/metrics.js';
import { renderJobFor } from '../queue/render-job.js';
import { jobPriorityOf } from '../queue/render-priority.js';
import { WaitAbandoned, WaitTimedOut } from '../queue/render-waiter.js';
import type { SegmentPlan } from '../segments/segment-plan.js';
import type { SegmentRequest } from '../segments/segment-url.js';
import type { RenderBody, RenderReader } from '../store/render-reader.js';
import { type PlanningDeps, planFromCatalog } from './plan-from-catalog.js';
import { Overloaded, type RenderRequester } from './request-render.js';

/** Calls `listener` if the client goes away (its connection closes); returns how to stop watching. */
export type ClientGoneWatch = (listener: () => void) => () => void;

export interface ObtainSegmentDeps extends PlanningDeps {
  /** The render's bytes: from memory when hot, else from the store. */
  renders: RenderReader;
  requester: RenderRequester;
  metrics: Pick<Metrics, 'countSegment'>;
}

/**
 * The segment's plan and bytes, or null when the client went away while its render was made (the render
 * goes on for everyone else). Rejects with the segment's 4xx, or 503 (overloaded, waited too long, failed
 * on a passing fault). A render it asks for is queued by the ask's urgency (Priority header) as a
 * waiting client's (queue/render-priority.ts).
 */
export async function obtainSegment(
  deps: ObtainSegmentDeps,
  segment: SegmentRequest,
  ask: { requestId: string; urgency: number; onClientGone: ClientGoneWatch },
): Promise<{ plan: SegmentPlan; body: RenderBody } | null> {
  const plan = await planFromCatalog(deps, segment);
  const stored = await deps.renders.open(plan.key);
  if (stored) {
    deps.metrics.countSegment(stored.origin === 'memory' ? 'memory_hit' : 'hit');
    return { plan, body: stored };
  }
  // Only a request that waits watches for its client going away: an abort signal per hit (and the
  // DOMException its abort() builds when the answer closes) cost a quarter of the API's hit rate.
  const gone = new AbortController();
  const unwatch = ask.onClientGone(() => gone.abort());
  let outcome: SegmentOutcome;
  try {
    const priority = jobPriorityOf({ waiting: true, urgency: ask.urgency });
    outcome = await deps.requester.request(renderJobFor(plan, ask.requestId), gone.signal, priority);
  } catch (error) {
    if (error instanceof WaitAbandoned) return null;
    deps.metrics.countSegment(error instanceof WaitTimedOut ? 'timeout' : error instanceof Overloaded ? 'shed' : 'failed');
    throw error;
  } finally {
    unwatch();
  }
  const rendered = await deps.renders.open(plan.key);
  if (!rendered) throw new Unavailable('The render was removed from the store before it could be sent; retry.', 'renderEvicted');
  deps.metrics.countSegment(outcome);
  return { plan, body: rendered };
}
