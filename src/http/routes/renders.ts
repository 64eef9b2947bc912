// Owns asynchronous renders (issue 6): POST /renders queues a segment's render and answers 202 at once;
// GET /renders/{id} is its JSON status; GET /renders/{id}/events streams the same statuses as Server-Sent
// Events until the render ends. The id is the render key, which is also the job id.
import type { FastifyInstance } from 'fastify';
import type { RenderEvents } from '../../queue/render-events.js';
import { RENDER_KEY_PATTERN } from '../../segments/render-key.js';
import { parseRenderBody, type RenderRequestBody, renderBodySchema } from '../../segments/render-request-body.js';
import { canonicalSegmentUrl } from '../../segments/segment-url.js';
import { requireSignature } from '../../segments/url-signature.js';
import { type AcceptRenderDeps, acceptSegment } from '../../use-cases/accept-render.js';
import { type PlanningDeps, planFromCatalog } from '../../use-cases/plan-from-catalog.js';
import { urgencyOf } from '../priority-header.js';
import { createEventStreams, renderNotFound } from '../render-events-stream.js';
import { replyAccepted, type StatusContext, statusBody } from '../render-status-reply.js';

export interface RenderRouteDeps extends PlanningDeps, AcceptRenderDeps {
  renderEvents: RenderEvents;
  /** SIGNING_KEY: when set, segment URLs must carry a valid signature. */
  signingKey: string | undefined;
  /** A comment line this often keeps an idle events stream open through proxies (nginx's read timeout). */
  eventsHeartbeatMs?: number;
  /** The longest an events stream stays open (render-events-stream.ts's EVENTS_MAX_LIFE_MS unless given). */
  eventsMaxLifeMs?: number;
}

const DEFAULT_HEARTBEAT_MS = 15_000;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: RENDER_KEY_PATTERN } } } as const;
const statusQuery = { type: 'object', additionalProperties: false, properties: { download: { type: 'string', enum: ['1'] } } } as const;
type StatusRoute = { Params: { id: string }; Querystring: { download?: '1' } };

export async function renderRoutes(app: FastifyInstance, deps: RenderRouteDeps) {
  const streams = createEventStreams({
    ...deps,
    heartbeatMs: deps.eventsHeartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    maxLifeMs: deps.eventsMaxLifeMs,
  });
  app.addHook('preClose', async () => streams.endAll());
  const contextOf = (query: { download?: '1' }): StatusContext => ({ download: query.download === '1', signingKey: deps.signingKey });

  app.post<{ Body: RenderRequestBody }>('/renders', { schema: { body: renderBodySchema } }, async (request, reply) => {
    const segment = parseRenderBody(request.body);
    if (deps.signingKey) requireSignature(canonicalSegmentUrl(segment), request.body.sig, deps.signingKey);
    const plan = await planFromCatalog(deps, segment);
    const accepted = await acceptSegment(deps, plan, { requestId: String(request.id), urgency: urgencyOf(request.headers.priority) });
    return replyAccepted(reply, accepted, { download: segment.download, signingKey: deps.signingKey });
  });

  app.get<StatusRoute>('/renders/:id', { schema: { params: idParams, querystring: statusQuery } }, async (request, reply) => {
    const { id } = request.params;
    const state = await deps.renderStatus.read(id);
    if (!state) throw renderNotFound(id);
    return reply.header('cache-control', 'no-store').send(statusBody(id, state, contextOf(request.query)));
  });

  app.get<StatusRoute>('/renders/:id/events', { schema: { params: idParams, querystring: statusQuery } }, async (request, reply) => {
    await streams.open(request.params.id, contextOf(request.query), reply);
  });
}
