// Owns GET / : the demo page (pick a source and a range, hear it, copy its URL). It is static and small,
// so it is answered from memory with an ETag; `no-cache` makes browsers revalidate, so a new version of
// the service shows its new page at once.
import type { FastifyInstance } from 'fastify';
import { demoPage } from '../demo-page-html.js';
import { matchesIfNoneMatch } from '../range.js';

export async function demoPageRoutes(app: FastifyInstance) {
  app.get('/', async (request, reply) => {
    reply
      .header('cache-control', 'no-cache')
      .header('etag', demoPage.etag)
      .header('content-security-policy', demoPage.contentSecurityPolicy)
      .header('x-content-type-options', 'nosniff');
    if (matchesIfNoneMatch(request.headers['if-none-match'], demoPage.etag)) return reply.code(304).send();
    return reply.header('content-type', 'text/html; charset=utf-8').send(demoPage.html);
  });
}
