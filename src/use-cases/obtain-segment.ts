// Owns a segment asked for by a client that waits for its bytes, once planned: take the stored render (from
// memory when hot) or ask for its render and wait, until it is stored or, for an ask that can take it so,
// until it is being written (then its bytes follow the writer), and count how it was obtained
// (segment_requests_total).
import { Unavailable } from '../errors.js';
import type { Metrics, SegmentOutcome } from '../observability/metrics.js';
import { renderJobFor } from '../queue/render-job.js';
import { jobPriorityOf } from '../queue/render-priority.js';
import { type GoneListener, type GoneSignal, WaitAbandoned, WaitTimedOut } from '../queue/render-waiter.js';
import type { SegmentPlan } from '../segments/segment-plan.js';
import type { FollowedRender, RenderFollower } from '../store/growing-render.js';
import type { RenderBody, RenderReader } from '../store/render-reader.js';
import { Overloaded, type RenderRequester } from './request-render.js';

/** Calls `listener` if the client goes away (its connection closes); returns how to stop watching. */
export type ClientGoneWatch = (listener: () => void) => () => void;

export interface ObtainSegmentDeps {
  /** The render's bytes: from memory when hot, else from the store. */
  renders: RenderReader;
  requester: RenderRequester;
  /** A render's bytes while it is written. */
  follow: RenderFollower;
  metrics: Pick<Metrics, 'countSegment'>;
}

/**
 * The client's going away, as its one wait watches it (one listener): a plain object where an
 * AbortController would cost each of 10,000 waiting requests about half a kilobyte more (issue 15).
 */
class ClientGone implements GoneSignal {
  aborted = false;
  private listener: GoneListener | undefined;
  /** Stops watching the client. */
  readonly unwatch: () => void;

  constructor(watch: ClientGoneWatch) {
    this.unwatch = watch(() => this.abort());
  }

  addEventListener(_type: 'abort', listener: GoneListener): void {
    this.listener = listener;
  }

  removeEventListener(_type: 'abort', listener: GoneListener): void {
    if (this.listener === listener) this.listener = undefined;
  }

  private abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listener = this.listener;
    this.listener = undefined;
    listener?.handleEvent();
  }
}

/**
 * The segment's plan and its bytes: a render in the store (`waited`: made while the request waited, else
 * stored already), or one being written; and how they were obtained (segment_requests_total's outcome).
 */
export type ObtainedSegment = { outcome: SegmentOutcome; plan: SegmentPlan } & (
  | { body: RenderBody; waited: boolean; streaming?: never }
  | { streaming: FollowedRender; body?: never }
);

/**
 * The planned segment's bytes, or null when the client went away while its render was made (the render
 * goes on for everyone else). Rejects with 422 (the render failed for good), or 503 (overloaded, waited too
 * long, failed on a passing fault). A render it asks for is queued by the ask's urgency (Priority header) as a
 * waiting client's (queue/render-priority.ts), and counted against its `client`'s share of the queue. A
 * `streamable` ask (a plain GET) gets a render that is being written as a stream of its bytes as they come.
 */
export async function obtainSegment(
  deps: ObtainSegmentDeps,
  plan: SegmentPlan,
  ask: {
    requestId: string;
    urgency: number;
    onClientGone: ClientGoneWatch;
    streamable: boolean;
    client: string;
    /** nginx sends a finished render's bytes from the store: only its head is read here. */
    headOnly: boolean;
  },
): Promise<ObtainedSegment | null> {
  const reading = { headOnly: ask.headOnly };
  const stored = await deps.renders.open(plan.key, reading);
  if (stored) {
    const outcome = stored.origin === 'memory' ? 'memory_hit' : 'hit';
    deps.metrics.countSegment(outcome);
    return { outcome, plan, body: stored, waited: false };
  }
  // Only a request that waits watches for its client going away: an abort signal per hit (and the
  // DOMException its abort() builds when the answer closes) cost a quarter of the API's hit rate.
  const gone = new ClientGone(ask.onClientGone);
  const { unwatch } = gone;
  let outcome: SegmentOutcome;
  try {
    const priority = jobPriorityOf({ waiting: true, urgency: ask.urgency });
    const requested = await deps.requester.request(renderJobFor(plan, ask.requestId), gone, {
      priority,
      streamable: ask.streamable,
      client: ask.client,
    });
    outcome = requested.outcome;
    if (requested.streaming) {
      const { fileName, done } = requested.streaming;
      const streaming = await deps.follow(plan.key, fileName, done);
      if (streaming) {
        // The client may still leave mid-stream: its going away ends its wait (and its count) then.
        void done.catch(() => undefined).finally(unwatch);
        deps.metrics.countSegment(outcome);
        return { outcome, plan, streaming };
      }
      // The file is gone already: published (or failed) between the announcement and now.
      await done;
    }
  } catch (error) {
    unwatch();
    if (error instanceof WaitAbandoned) return null;
    deps.metrics.countSegment(error instanceof WaitTimedOut ? 'timeout' : error instanceof Overloaded ? 'shed' : 'failed');
    throw error;
  }
  unwatch();
  const rendered = await deps.renders.open(plan.key, reading);
  if (!rendered) throw new Unavailable('The render was removed from the store before it could be sent; retry.', 'renderEvicted');
  deps.metrics.countSegment(outcome);
  return { outcome, plan, body: rendered, waited: true };
}
