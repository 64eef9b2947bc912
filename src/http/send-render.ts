// Owns the answer for a render in the store: 200/206/304/416 with Range, HEAD, ETag and caching headers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RangeNotSatisfiable } from '../errors.js';
import type { StoredRender } from '../store/render-store.js';
import { matchesIfNoneMatch, resolveRange } from './range.js';

export interface RenderAnswer {
  key: string;
  /** A readable file name for Content-Disposition. */
  fileName: string;
  download: boolean;
  cacheMaxAgeSeconds: number;
}

/** Cache-Control of every cacheable segment answer (renders and the redirects to their canonical URL). */
export function segmentCacheControl(maxAgeSeconds: number): string {
  return `public, max-age=${maxAgeSeconds}`;
}

/** The key names the bytes exactly, so it is a strong validator. */
export function etagFor(key: string): string {
  return `"${key}"`;
}

export function contentDisposition(fileName: string, download: boolean): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const kind = download ? 'attachment' : 'inline';
  // RFC 8187 attr-chars exclude ' ( ) * which encodeURIComponent leaves as they are.
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export async function sendRender(request: FastifyRequest, reply: FastifyReply, stored: StoredRender, answer: RenderAnswer) {
  const etag = etagFor(answer.key);
  reply
    .header('content-type', 'audio/mpeg')
    .header('accept-ranges', 'bytes')
    .header('etag', etag)
    .header('cache-control', segmentCacheControl(answer.cacheMaxAgeSeconds))
    .header('content-disposition', contentDisposition(answer.fileName, answer.download));

  if (matchesIfNoneMatch(request.headers['if-none-match'], etag)) {
    await stored.handle.close();
    reply.removeHeader('content-type');
    return reply.code(304).send();
  }
  const range = resolveRange(stored.size, request.headers.range, header(request.headers['if-range']), etag);
  if (range.kind === 'unsatisfiable') {
    await stored.handle.close();
    throw new RangeNotSatisfiable(stored.size);
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, stored.size - 1];
  if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${stored.size}`);
  reply.header('content-length', String(end - start + 1));
  if (request.method === 'HEAD' || stored.size === 0) {
    await stored.handle.close();
    return reply.send();
  }
  // The stream closes the handle when it ends or the client goes away.
  return reply.send(stored.handle.createReadStream({ start, end }));
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
