// Owns GET /sources/{source}: what the catalog knows of one source.
import type { FastifyInstance } from 'fastify';
import { parseSourcePath } from '../../segments/segment-url.js';
import type { Catalog } from '../../sources/catalog.js';

export async function sourceRoutes(app: FastifyInstance, deps: { catalog: Catalog }) {
  app.get('/sources/*', async (request) => {
    const [rawPath = ''] = request.url.split('?', 1);
    const facts = await deps.catalog.describe(parseSourcePath(rawPath.slice('/sources/'.length)));
    return {
      source: decodeURIComponent(facts.name),
      durationSeconds: facts.durationMs / 1000,
      sampleRate: facts.sampleRate,
      channels: facts.channels,
      bitRate: facts.bitRate,
      size: facts.size,
      segments: `/segments/${facts.name}/{start}-{end}.mp3`,
    };
  });
}
