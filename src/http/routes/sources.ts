// Owns GET /sources (every source below MEDIA_ROOT, for the demo page and people),
// GET /sources/{source} (what the catalog knows of one source) and GET /sources/{source}/peaks.{json|dat}
// (its waveform peaks: the plan, 4xx before anything else, the canonical URL or a 308 to it, a 304 for a
// client holding them, then the peaks, computed by a worker while the request waits when not yet recorded).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { canonicalPeaksUrl, isPeaksPath, parsePeaksRequest } from '../../peaks/peaks-url.js';
import { parseSourcePath } from '../../segments/segment-url.js';
import type { Catalog } from '../../sources/catalog.js';
import { describeSource } from '../../sources/source-description.js';
import type { SourceList } from '../../sources/source-list.js';
import { obtainPeaks, type PeaksDeps, planPeaks } from '../../use-cases/obtain-peaks.js';
import { redirectToCanonical } from '../canonical-redirect.js';
import { matchesIfNoneMatch } from '../range.js';
import { type PeaksAnswer, peaksEtag, sendPeaks, sendPeaksAccepted, sendPeaksNotModified } from '../send-peaks.js';

export interface SourceRouteDeps extends PeaksDeps {
  catalog: Catalog;
  sourceList: SourceList;
  /** PEAKS_MAX_AGE_SECONDS: a replaced source's new peaks reach caches within this (they revalidate by ETag). */
  peaksMaxAgeSeconds: number;
}

export async function sourceRoutes(app: FastifyInstance, deps: SourceRouteDeps) {
  app.get('/sources', async (_request, reply) => {
    const listing = await deps.sourceList.list();
    // Files come and go; a client may keep the answer but must ask again before using it.
    reply.header('cache-control', 'no-cache');
    return {
      sources: listing.sources.map((entry) =>
        'facts' in entry ? describeSource(entry.facts) : { source: entry.source.join('/'), error: entry.error },
      ),
      truncated: listing.truncated,
    };
  });

  // One wildcard route for both: a source path has any number of segments, so peaks are told by the suffix.
  app.get('/sources/*', async (request, reply) => {
    const [rawPath = ''] = request.url.split('?', 1);
    if (isPeaksPath(rawPath)) return answerPeaks(request, reply, rawPath);
    return describeSource(await deps.catalog.describe(parseSourcePath(rawPath.slice('/sources/'.length))));
  });

  async function answerPeaks(request: FastifyRequest, reply: FastifyReply, rawPath: string) {
    // The query has no schema here (the route also describes sources): parsed against the peaks' own table.
    const asked = parsePeaksRequest(rawPath, request.query as Record<string, unknown>);
    // A source that does not exist is its 404 under any spelling (no redirect reveals or invents one).
    const plan = await planPeaks(deps, asked.source);
    const canonical = canonicalPeaksUrl(asked);
    if (canonical !== request.url) return redirectToCanonical(reply, canonical);
    const answer: PeaksAnswer = { key: plan.key, asked, maxAgeSeconds: deps.peaksMaxAgeSeconds };
    if (matchesIfNoneMatch(request.headers['if-none-match'], peaksEtag(answer))) return sendPeaksNotModified(reply, answer);
    const peaks = await obtainPeaks(deps, plan, {
      requestId: String(request.id),
      client: request.ip,
      onClientGone: (listener) => {
        reply.raw.on('close', listener);
        return () => reply.raw.off('close', listener);
      },
    });
    // The client went away while its peaks were computed: nobody is left to answer.
    if (!peaks) return reply.hijack();
    if ('stillComputing' in peaks) return sendPeaksAccepted(reply, canonical, peaks.retryAfterSeconds);
    return sendPeaks(reply, peaks, answer);
  }
}
