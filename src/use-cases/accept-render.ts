// Owns an asynchronous ask for a segment (a segment URL with Prefer: respond-async, or POST /renders), once
// planned: queue its render unless it is known already, count the ask, and say where the render stands.
import type { Metrics, SegmentOutcome } from '../observability/metrics.js';
import { renderJobFor } from '../queue/render-job.js';
import { jobPriorityOf } from '../queue/render-priority.js';
import type { SegmentPlan } from '../segments/segment-plan.js';
import type { RenderState, RenderStatus } from './render-status.js';
import { Overloaded, type RenderRequester } from './request-render.js';

export interface AcceptRenderDeps {
  requester: RenderRequester;
  renderStatus: RenderStatus;
  /** segment_requests_total counts asynchronous asks too. */
  metrics: Pick<Metrics, 'countSegment'>;
}

/** An asynchronous ask for a render already known, as segment_requests_total counts it. */
const ASKED_OUTCOME = { done: 'hit', queued: 'joined', rendering: 'joined', failed: 'failed' } as const satisfies Record<
  RenderState['status'],
  SegmentOutcome
>;

/**
 * The render's id and state at once, queueing it unless it is known already: a render in the store is
 * `done`, one queued or rendering is joined, a failure still remembered is `failed` (a new job would fail
 * at once the same way). Rejects with 503 when the queue is full or unreachable.
 */
export async function acceptSegment(
  deps: AcceptRenderDeps,
  plan: SegmentPlan,
  ask: { requestId: string; urgency: number },
): Promise<{ key: string; state: RenderState }> {
  const known = await deps.renderStatus.read(plan.key);
  if (known) {
    deps.metrics.countSegment(ASKED_OUTCOME[known.status]);
    return { key: plan.key, state: known };
  }
  // Counted as a waiting request would be (docs/operations.md, metrics): the ask that queued it is the miss.
  const priority = jobPriorityOf({ waiting: false, urgency: ask.urgency });
  await deps.requester.submit(renderJobFor(plan, ask.requestId), priority).catch((error: unknown) => {
    deps.metrics.countSegment(error instanceof Overloaded ? 'shed' : 'failed');
    throw error;
  });
  deps.metrics.countSegment('miss');
  return { key: plan.key, state: { status: 'queued' } };
}
