// Owns asynchronous renders (issue 6): POST /renders queues a segment's render and answers 202 at once;
// GET /renders/{id} is its JSON status; GET /renders/{id}/events streams the same statuses as Server-Sent
// Events until the render ends. The id is the render key, which is also the job id.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { RenderNotFound } from '../../errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { RenderEvent, RenderEvents } from '../../queue/render-events.js';
import { renderJobFor } from '../../queue/render-job.js';
import type { RenderRequester } from '../../queue/render-requester.js';
import type { RenderState, RenderStatus } from '../../queue/render-status.js';
import { parseRenderBody, renderBodySchema, type RenderRequestBody } from '../../segments/render-body.js';
import { RENDER_KEY_PATTERN } from '../../segments/render-key.js';
import { planSegment } from '../../segments/segment-plan.js';
import { canonicalSegmentUrl, type SegmentRequest } from '../../segments/segment-url.js';
import { requireSignature } from '../../segments/url-signature.js';
import type { Catalog } from '../../sources/catalog.js';
import { acceptRender, statusBody, type RenderStatusBody, type StatusContext } from '../render-status-answer.js';

export interface RenderRouteDeps {
  catalog: Catalog;
  requester: RenderRequester;
  /** segment_requests_total counts asynchronous asks too. */
  metrics: Metrics;
  renderStatus: RenderStatus;
  renderEvents: RenderEvents;
  maxSegmentSeconds: number;
  /** SIGNING_KEY: when set, segment URLs must carry a valid signature. */
  signingKey: string | undefined;
  /** A comment line this often keeps an idle events stream open through proxies (nginx's read timeout). */
  eventsHeartbeatMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 15_000;
/** The events stream's `retry:`: how long an EventSource waits before reconnecting to an ended stream. */
export const EVENTS_RETRY_MS = 86_400_000;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: RENDER_KEY_PATTERN } } } as const;
const statusQuery = { type: 'object', additionalProperties: false, properties: { download: { type: 'string', enum: ['1'] } } } as const;
type StatusRoute = { Params: { id: string }; Querystring: { download?: '1' } };

/** Plans a segment asked for asynchronously (from a segment URL with Prefer, or a POST) and answers 202. */
export async function acceptSegment(
  deps: RenderRouteDeps,
  segment: SegmentRequest,
  requestId: string,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const source = await deps.catalog.describe(segment.source);
  const plan = planSegment(segment, source, { maxSegmentSeconds: deps.maxSegmentSeconds });
  return acceptRender(deps, renderJobFor(plan, segment.source, source, requestId), segment.download, reply);
}

function notFound(id: string): RenderNotFound {
  return new RenderNotFound(
    `No render ${id} is known: it was never asked for, its failure is no longer remembered, or it was removed from the store; ask for the segment again.`,
  );
}

const isFinal = (body: RenderStatusBody) => body.status === 'done' || body.status === 'failed';

export async function renderRoutes(app: FastifyInstance, deps: RenderRouteDeps) {
  const heartbeatMs = deps.eventsHeartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const openStreams = new Set<() => void>();
  // An open stream would hold app.close() (and the process's stop) until its render ends.
  app.addHook('preClose', async () => {
    for (const end of [...openStreams]) end();
  });

  app.post<{ Body: RenderRequestBody }>('/renders', { schema: { body: renderBodySchema } }, async (request, reply) => {
    const segment = parseRenderBody(request.body);
    if (deps.signingKey) requireSignature(canonicalSegmentUrl(segment), request.body.sig, deps.signingKey);
    return acceptSegment(deps, segment, String(request.id), reply);
  });

  app.get<StatusRoute>('/renders/:id', { schema: { params: idParams, querystring: statusQuery } }, async (request, reply) => {
    const { id } = request.params;
    const state = await deps.renderStatus.read(id);
    if (!state) throw notFound(id);
    return reply
      .header('cache-control', 'no-store')
      .send(statusBody(id, state, { download: request.query.download === '1', signingKey: deps.signingKey }));
  });

  app.get<StatusRoute>('/renders/:id/events', { schema: { params: idParams, querystring: statusQuery } }, async (request, reply) => {
    const { id } = request.params;
    const context: StatusContext = { download: request.query.download === '1', signingKey: deps.signingKey };
    // Events are applied in order, after the first status: subscribed before it is read, so none is missed.
    let opened!: () => void;
    let chain = new Promise<void>((resolve) => (opened = resolve));
    const apply = (event: RenderEvent) => {
      chain = chain
        .then(() => stateAfter(event))
        .then(
          (state) => send(statusBody(id, state, context), event.type === 'active'),
          () => end(),
        );
    };
    const unsubscribe = deps.renderEvents.subscribe(id, apply);
    let initial: RenderState | null;
    try {
      initial = await deps.renderStatus.read(id);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    if (!initial) {
      unsubscribe();
      throw notFound(id);
    }

    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx passes each event on at once instead of buffering the stream (proxy_buffering off too).
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // A browser's EventSource reconnects whenever a stream ends, by default after about 3 s; the stream
    // ends after done or failed, so the client closes it then (README), and a day stands in for never.
    response.write(`retry: ${EVENTS_RETRY_MS}\n\n`);
    let last: RenderStatusBody | null = null;
    let ended = false;
    const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), heartbeatMs);
    function end() {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      unsubscribe();
      openStreams.delete(end);
      response.end();
    }
    /** `attempt`: the job (re)started ('active'), so its percent starts again from nothing. */
    function send(body: RenderStatusBody, attempt = false) {
      if (ended) return;
      // Percent never goes back within an attempt (a late event after a newer reading), and an unchanged
      // status is not repeated.
      if (!attempt && last && body.status === 'rendering' && last.status === 'rendering' && (body.percent ?? -1) <= (last.percent ?? -1))
        return;
      if (last && JSON.stringify(last) === JSON.stringify(body)) return;
      last = body;
      response.write(`data: ${JSON.stringify(body)}\n\n`);
      if (isFinal(body)) end();
    }
    async function stateAfter(event: RenderEvent): Promise<RenderState> {
      switch (event.type) {
        case 'queued':
          return { status: 'queued' };
        case 'active':
          return { status: 'rendering' };
        case 'progress':
          return { status: 'rendering', percent: event.percent };
        case 'failed':
          return { status: 'failed', failure: event.failure };
        case 'completed':
          // The store is the record of a finished render (and holds what its segment URL is written from).
          return (
            (await deps.renderStatus.read(id)) ?? {
              status: 'failed',
              failure: { status: 503, detail: 'The render finished but is no longer in the store; ask for it again.' },
            }
          );
      }
    }
    openStreams.add(end);
    response.once('close', end);
    send(statusBody(id, initial, context));
    opened();
  });
}
