// Owns GET/HEAD /segments/{source}/{start}-{end}.mp3: the signature, the plan (a 4xx comes before anything
// else is revealed), the canonical URL or a 308 to it, a 304 for a client holding the render's ETag (the
// ETag is the render key: no render is opened or made for it), then either the 202 of an asynchronous ask
// (Prefer: respond-async) or the segment's bytes (obtained by the use case: stored, or rendered while the
// request waits, or followed as they are written) with Range, ETag and caching headers; through nginx, a
// finished render is handed to nginx to send from the store (X-Accel-Redirect, no body).
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';
import { parseRenderOptions, type SegmentQuery, segmentQuerySchema } from '../../segments/render-options.js';
import { canonicalSegmentUrl, parseSegmentPath, type SegmentRequest, segmentFileName } from '../../segments/segment-url.js';
import { requireSignature, signedUrl } from '../../segments/url-signature.js';
import type { RendersInUse } from '../../store/renders-in-use.js';
import { type AcceptRenderDeps, acceptSegment } from '../../use-cases/accept-render.js';
import { type ObtainSegmentDeps, obtainSegment } from '../../use-cases/obtain-segment.js';
import { type PlanningDeps, planFromCatalog } from '../../use-cases/plan-from-catalog.js';
import { noteForLog } from '../request-log.js';
import { redirectToCanonical } from '../canonical-redirect.js';
import { urgencyOf } from '../priority-header.js';
import { prefersAsync, replyAccepted } from '../render-status-reply.js';
import { copyCutOf } from '../../render/sample-copy.js';
import { matchesIfNoneMatch } from '../range.js';
import {
  etagFor,
  type RenderAnswer,
  sendNotModified,
  sendRender,
  sendStoreHandover,
  sendStreamingRender,
  STORE_HANDOVER_HEADER,
} from '../send-render.js';

export interface SegmentRouteDeps extends PlanningDeps, ObtainSegmentDeps, AcceptRenderDeps {
  metrics: Pick<Metrics, 'countSegment' | 'observeFirstByte'>;
  rendersInUse: RendersInUse;
  /** SIGNING_KEY: when set, segment URLs must carry a valid signature. */
  signingKey: string | undefined;
  cacheMaxAgeSeconds: number;
}

/**
 * A GET that takes the whole body as it comes: it may get a render while it is written. A Range, HEAD or
 * conditional request waits for the finished render, whose length and bytes its answer needs.
 */
function isPlainGet(method: string, headers: IncomingHttpHeaders): boolean {
  return method === 'GET' && headers.range === undefined && headers['if-none-match'] === undefined;
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
      // Then the plan: a source that does not exist (or an ask it cannot meet) is its 4xx under any spelling.
      const plan = await planFromCatalog(deps, segment);
      if (expected !== request.url) {
        // One spelling per segment, so caches hold one copy (unsigned deployments drop a `sig`).
        return redirectToCanonical(reply, expected);
      }
      const answer: RenderAnswer = {
        key: plan.key,
        fileName: segmentFileName(segment.source, plan.spec.startMs, plan.spec.endMs),
        download: segment.download,
        cacheMaxAgeSeconds: deps.cacheMaxAgeSeconds,
      };
      // A revalidation of bytes the client holds: the key names them, so they need not exist here now.
      if (matchesIfNoneMatch(request.headers['if-none-match'], etagFor(plan.key))) return sendNotModified(reply, answer);

      // Prefer: respond-async (RFC 7240): 202 with the render's status at once, never the bytes (docs/api.md).
      if (prefersAsync(request.headers.prefer)) {
        const accepted = await acceptSegment(deps, plan, {
          requestId: String(request.id),
          urgency: urgencyOf(request.headers.priority),
        });
        reply.header('preference-applied', 'respond-async');
        return replyAccepted(reply, accepted, { download: segment.download, signingKey: deps.signingKey });
      }

      // Through nginx, a finished render is nginx's to send from the store's file (and to keep in its cache).
      const handsOver = request.headers[STORE_HANDOVER_HEADER] !== undefined;
      const obtained = await obtainSegment(deps, plan, {
        requestId: String(request.id),
        urgency: urgencyOf(request.headers.priority),
        onClientGone: (listener) => {
          // on, not once: once wraps each listener in a state object and a bound function, bytes that each
          // of 10,000 waiting requests would keep (issue 15); 'close' comes once, and unwatch removes it.
          reply.raw.on('close', listener);
          return () => reply.raw.off('close', listener);
        },
        streamable: isPlainGet(request.method, request.headers),
        client: request.ip,
        headOnly: handsOver,
      });
      // The client went away while its render was made: nobody is left to answer.
      if (!obtained) return reply.hijack();
      const { streaming, body } = obtained;
      noteForLog(request, { outcome: obtained.outcome, size: streaming ? streaming.size : body.size });
      // The answer's first bytes go out now (headers, and the first written bytes of a streamed render).
      deps.metrics.observeFirstByte(streaming ? 'streamed' : obtained.waited ? 'rendered' : 'stored', reply.elapsedTime / 1000);
      if (streaming) return sendStreamingRender(reply, streaming, answer);
      // Whether a copy plays exactly the asked samples (gapless players) or whole frames: its bytes say.
      if (plan.spec.options.mode === 'copy') reply.header('x-cut', copyCutOf(await body.head()));
      // Handed over, no byte passes through here (only the head above was read). Not held in use: nginx's
      // read is short beside STORE_EVICT_GRACE_MS, and a file removed while nginx sends it is still read
      // whole (an open file outlives its unlink).
      if (handsOver) {
        await body.release();
        return sendStoreHandover(reply, answer);
      }
      // In use until the answer is sent or the client leaves: eviction never removes it mid-stream.
      if (body.readsStoreFile) deps.rendersInUse.holdUntilClosed(plan.key, reply.raw);
      return sendRender(request, reply, body, answer);
    },
  });
}
