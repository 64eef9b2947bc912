// Owns the JSON status of an asynchronous render (GET /renders/{id}, each event of its stream, the body of
// a 202) and the 202 answer itself: queue the render unless it is known already, then say where to follow it.
import type { FastifyReply } from 'fastify';
import type { Metrics, SegmentOutcome } from '../observability/metrics.js';
import type { RenderJobData } from '../queue/render-job.js';
import { Overloaded, type RenderRequester } from '../queue/render-requester.js';
import type { RenderState, RenderStatus } from '../queue/render-status.js';
import { failureToError } from '../queue/render-waiter.js';
import type { RenderOptions } from '../segments/render-options.js';
import { canonicalRenderUrl } from '../segments/segment-url.js';
import { publishedUrl } from '../segments/url-signature.js';
import type { RenderMetadata } from '../store/render-store.js';
import { problemOf, type Problem } from './problem-handler.js';

export interface RenderStatusBody {
  id: string;
  status: RenderState['status'];
  /** While rendering: how much of the segment ffmpeg has written, 0-99, once it has said. */
  percent?: number;
  /** When done: the segment's canonical URL (signed where URLs are signed). */
  segment?: string;
  /** When failed: what the segment URL itself would have answered. */
  problem?: Problem;
}

export interface StatusContext {
  /** The segment URL asks for an attachment (`?download=1` on the status URL). */
  download: boolean;
  signingKey: string | undefined;
}

/** A render's parameters from its stored facts; renders stored before they were recorded name copies only. */
function optionsOf(render: RenderMetadata): RenderOptions | undefined {
  return render.options ?? (render.mode === 'copy' ? { mode: 'copy' } : undefined);
}

/** Whoever knows a render's id was given it for a URL they could ask for, so a signed URL may be handed out. */
function segmentUrlOf(render: RenderMetadata, context: StatusContext): string | undefined {
  const options = optionsOf(render);
  if (!options) return undefined;
  const url = canonicalRenderUrl({ ...render, options }, context.download);
  return publishedUrl(url, context.signingKey);
}

export function statusBody(id: string, state: RenderState, context: StatusContext): RenderStatusBody {
  switch (state.status) {
    case 'queued':
      return { id, status: 'queued' };
    case 'rendering':
      return { id, status: 'rendering', ...(state.percent === undefined ? {} : { percent: state.percent }) };
    case 'done':
      return { id, status: 'done', segment: segmentUrlOf(state.render, context) };
    case 'failed':
      return { id, status: 'failed', problem: problemOf(failureToError(state.failure)) };
  }
}

/** Where a render's status is followed; `?download=1` carries the ask for an attachment to its segment URL. */
export function statusLocation(id: string, download: boolean): string {
  return `/renders/${id}${download ? '?download=1' : ''}`;
}

/** An asynchronous ask for a render already known, as segment_requests_total counts it. */
const ASKED_OUTCOME = { done: 'hit', queued: 'joined', rendering: 'joined', failed: 'failed' } as const satisfies Record<
  RenderState['status'],
  SegmentOutcome
>;

/**
 * Answers 202 with the render's status at once, queueing the render unless it is known already: a render
 * in the store is `done`, one queued or rendering is joined, a failure still remembered is `failed` (a new
 * job would fail at once the same way). Never cached: the next look may say something else.
 */
export async function acceptRender(
  deps: { requester: RenderRequester; renderStatus: RenderStatus; metrics: Pick<Metrics, 'countSegment'>; signingKey: string | undefined },
  job: RenderJobData,
  download: boolean,
  reply: FastifyReply,
): Promise<FastifyReply> {
  let state = await deps.renderStatus.read(job.key);
  if (!state) {
    // Counted as a waiting request would be (README "Observability"): the ask that queued it is the miss.
    await deps.requester.submit(job).catch((error: unknown) => {
      deps.metrics.countSegment(error instanceof Overloaded ? 'shed' : 'failed');
      throw error;
    });
    state = { status: 'queued' };
    deps.metrics.countSegment('miss');
  } else {
    deps.metrics.countSegment(ASKED_OUTCOME[state.status]);
  }
  return reply
    .code(202)
    .header('location', statusLocation(job.key, download))
    .header('cache-control', 'no-store')
    .send(statusBody(job.key, state, { download, signingKey: deps.signingKey }));
}

/** True when a Prefer header (RFC 7240) holds the respond-async preference. */
export function prefersAsync(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer === undefined ? [] : [prefer];
  return values.some((value) =>
    value.split(',').some((preference) => preference.split(/[;=]/, 1)[0]?.trim().toLowerCase() === 'respond-async'),
  );
}
