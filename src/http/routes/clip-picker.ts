// Owns GET / : the clip picker (pick a source, drag a region on its waveform, hear it, copy its URL), and
// GET /assets/{file}: the waveform library it loads. The page is built for each answer (its style nonce is
// new each time), so it is `no-store`; the library files are answered from memory with an ETag and
// `no-cache`, so a new version of the service serves its new files at once (the page's integrity
// attributes would refuse an old one).
import type { FastifyInstance } from 'fastify';
import { clipPickerAnswer } from '../clip-picker-html.js';
import { loadPageAssets, type PageAsset } from '../page-assets.js';
import { matchesIfNoneMatch } from '../range.js';

export async function clipPickerRoutes(app: FastifyInstance) {
  const assets = await loadPageAssets();

  app.get('/', async (_request, reply) => {
    const page = clipPickerAnswer(assets);
    return reply
      .header('cache-control', 'no-store')
      .header('content-security-policy', page.contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff')
      .header('content-type', 'text/html; charset=utf-8')
      .send(page.html);
  });

  const serve = (asset: PageAsset) =>
    app.get(asset.url, async (request, reply) => {
      reply.header('cache-control', 'no-cache').header('etag', asset.etag).header('x-content-type-options', 'nosniff');
      if (matchesIfNoneMatch(request.headers['if-none-match'], asset.etag)) return reply.code(304).send();
      return reply.header('content-type', 'text/javascript; charset=utf-8').send(asset.body);
    });
  serve(assets.wavesurfer);
  serve(assets.regions);
}
