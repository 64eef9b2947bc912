// Owns the JSON status of an asynchronous render (GET /renders/{id}, each event of its stream, the body of
// a 202), the 202 answer itself, and the Prefer header that asks for it.
import type { FastifyReply } from 'fastify';
import { failureAsServiceError } from '../render/render-failure.js';
import type { RenderOptions } from '../render/render-spec.js';
import { canonicalRenderUrl } from '../segments/segment-url.js';
import { publishedUrl } from '../segments/url-signature.js';
import type { RenderMetadata } from '../store/render-store.js';
import type { RenderState } from '../use-cases/render-status.js';
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
      return { id, status: 'failed', problem: problemOf(failureAsServiceError(state.failure)) };
  }
}

/** Where a render's status is followed; `?download=1` carries the ask for an attachment to its segment URL. */
export function statusLocation(id: string, download: boolean): string {
  return `/renders/${id}${download ? '?download=1' : ''}`;
}

/** The 202 of an asynchronous ask: the render's status now, and where to follow it. Never cached. */
export function replyAccepted(reply: FastifyReply, accepted: { key: string; state: RenderState }, context: StatusContext): FastifyReply {
  return reply
    .code(202)
    .header('location', statusLocation(accepted.key, context.download))
    .header('cache-control', 'no-store')
    .send(statusBody(accepted.key, accepted.state, context));
}

/** True when a Prefer header (RFC 7240) holds the respond-async preference. */
export function prefersAsync(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : prefer === undefined ? [] : [prefer];
  return values.some((value) =>
    value.split(',').some((preference) => preference.split(/[;=]/, 1)[0]?.trim().toLowerCase() === 'respond-async'),
  );
}
