// Owns GET/HEAD /segments/{source}/{start}-{end}.mp3: canonical URL or 308, source facts, plan, then the
// stored render or a wait on its job, then the bytes.
import type { FastifyInstance } from 'fastify';
import { Unavailable } from '../../errors.js';
import type { SegmentOutcome } from '../../observability/metrics.js';
import { renderJobFor, type RenderJobData } from '../../queue/render-job.js';
import { Overloaded } from '../../queue/render-requester.js';
import { WaitAbandoned, WaitTimedOut } from '../../queue/render-waiter.js';
import { planSegment } from '../../segments/segment-plan.js';
import { parseRenderOptions, segmentQuerySchema, type SegmentQuery } from '../../segments/render-options.js';
import { canonicalSegmentUrl, parseSegmentPath, segmentFileName, type SegmentRequest } from '../../segments/segment-url.js';
import { requireSignature, signedUrl } from '../../segments/url-signature.js';
import type { RenderReader } from '../../store/render-reader.js';
import type { RendersInUse } from '../../store/renders-in-use.js';
import { prefersAsync } from '../render-status-answer.js';
import { segmentCacheControl, sendRender } from '../send-render.js';
import { acceptSegment, type RenderRouteDeps } from './renders.js';

export interface SegmentRouteDeps extends RenderRouteDeps {
  /** The render's bytes: from memory when hot, else from the store. */
  renders: RenderReader;
  rendersInUse: RendersInUse;
  cacheMaxAgeSeconds: number;
}

export async function segmentRoutes(app: FastifyInstance, deps: SegmentRouteDeps) {
  app.route<{ Querystring: SegmentQuery }>({
    method: ['GET', 'HEAD'],
    url: '/segments/*',
    exposeHeadRoute: false,
    schema: { querystring: segmentQuerySchema },
    async handler(request, reply) {
      const [rawPath = ''] = request.url.split('?', 1);
      const segment: SegmentRequest = {
        ...parseSegmentPath(rawPath),
        options: parseRenderOptions(request.query),
        download: request.query.download === '1',
      };
      // Signed deployments check the signature before anything else is revealed (a redirect, a 404).
      const canonical = canonicalSegmentUrl(segment);
      const expected = deps.signingKey ? signedUrl(canonical, requireSignature(canonical, request.query.sig, deps.signingKey)) : canonical;
      if (expected !== request.url) {
        // One spelling per segment, so caches hold one copy (unsigned deployments drop a `sig`).
        return reply.code(308).header('location', expected).header('cache-control', segmentCacheControl(deps.cacheMaxAgeSeconds)).send();
      }

      // Prefer: respond-async (RFC 7240): 202 with the render's status at once, never the bytes (README).
      if (prefersAsync(request.headers.prefer)) {
        return acceptSegment(deps, segment, String(request.id), reply.header('preference-applied', 'respond-async'));
      }

      const source = await deps.catalog.describe(segment.source);
      const plan = planSegment(segment, source, { maxSegmentSeconds: deps.maxSegmentSeconds });
      let body = await deps.renders.open(plan.key);
      let outcome: SegmentOutcome = body?.origin === 'memory' ? 'memory_hit' : 'hit';
      if (!body) {
        const job = renderJobFor(plan, segment.source, source, String(request.id));
        const waited = await waitForRender(deps, job, reply.raw);
        if (waited === 'abandoned') return reply.hijack();
        outcome = waited;
        body = await deps.renders.open(plan.key);
        if (!body) throw new Unavailable('The render was removed from the store before it could be sent; retry.', 1);
      }
      deps.metrics.countSegment(outcome);
      // In use until the answer is sent or the client leaves: eviction never removes it mid-stream.
      if (body.readsStoreFile) reply.raw.once('close', deps.rendersInUse.hold(plan.key));
      return sendRender(request, reply, body, {
        key: plan.key,
        fileName: segmentFileName(segment.source, plan.spec.startMs, plan.spec.endMs),
        download: segment.download,
        cacheMaxAgeSeconds: deps.cacheMaxAgeSeconds,
      });
    },
  });
}

/** Waits on the render; a client that goes away stops waiting (its job still completes for the others). */
async function waitForRender(deps: SegmentRouteDeps, job: RenderJobData, response: NodeJS.EventEmitter) {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  response.once('close', onClose);
  try {
    return await deps.requester.request(job, gone.signal);
  } catch (error) {
    if (error instanceof WaitAbandoned) return 'abandoned' as const;
    deps.metrics.countSegment(error instanceof WaitTimedOut ? 'timeout' : error instanceof Overloaded ? 'shed' : 'failed');
    throw error;
  } finally {
    response.off('close', onClose);
  }
}
