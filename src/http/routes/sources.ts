// Owns GET /sources (every source below MEDIA_ROOT, for the demo page and people) and
// GET /sources/{source} (what the catalog knows of one source).
import type { FastifyInstance } from 'fastify';
import { parseSourcePath } from '../../segments/segment-url.js';
import type { Catalog } from '../../sources/catalog.js';
import { describeSource } from '../../sources/source-description.js';
import type { SourceList } from '../../sources/source-list.js';

export interface SourceRouteDeps {
  catalog: Catalog;
  sourceList: SourceList;
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

  app.get('/sources/*', async (request) => {
    const [rawPath = ''] = request.url.split('?', 1);
    return describeSource(await deps.catalog.describe(parseSourcePath(rawPath.slice('/sources/'.length))));
  });
}
