// Owns the answer with a render's bytes: from the store, 200/206/304/416 with Range, HEAD, ETag and caching
// headers; while it is written, a 200 of its bytes as they come; through nginx, a stored render handed over
// to nginx (X-Accel-Redirect) with the same headers and no body.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RangeNotSatisfiable } from '../errors.js';
import type { FollowedRender } from '../store/growing-render.js';
import type { RenderBody } from '../store/render-reader.js';
import { storedFileName } from '../store/render-store.js';
import { matchesIfNoneMatch, resolveRange } from './range.js';

export interface RenderAnswer {
  key: string;
  /** A readable file name for Content-Disposition. */
  fileName: string;
  download: boolean;
  cacheMaxAgeSeconds: number;
}

/** Cache-Control of every answer with a render's bytes. */
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

/** The headers of every answer with a render's bytes. */
function renderHeaders(reply: FastifyReply, answer: RenderAnswer): void {
  reply
    .header('content-type', 'audio/mpeg')
    .header('accept-ranges', 'bytes')
    .header('etag', etagFor(answer.key))
    .header('cache-control', segmentCacheControl(answer.cacheMaxAgeSeconds))
    .header('content-disposition', contentDisposition(answer.fileName, answer.download));
}

/**
 * A render that is being written, as its bytes come: 200 with the length its header stated before the
 * bytes were all written, the finished render's ETag and caching (they are its bytes: nginx keeps this
 * answer as any other). Only a plain GET gets one (segments.ts). A render that fails midway ends the
 * answer short of its length, which clients and nginx see as a failed answer, never a complete one.
 */
export function sendStreamingRender(reply: FastifyReply, render: FollowedRender, answer: RenderAnswer) {
  renderHeaders(reply, answer);
  reply.header('content-length', String(render.size));
  return reply.send(render.bytes);
}

/** The request header nginx.conf sets on what it proxies: it serves the store's files at STORE_LOCATION. */
export const STORE_HANDOVER_HEADER = 'x-accel-store';
const STORE_LOCATION = '/_store/';

/**
 * A stored render for nginx to send from the store's file (sendfile, its own Range, If-Range and HEAD): the
 * headers of the bytes and X-Accel-Redirect, no body. Should the file be gone when nginx opens it, nginx
 * asks again without the handover header and gets the bytes (nginx.conf, @render).
 */
export function sendStoreHandover(reply: FastifyReply, answer: RenderAnswer) {
  renderHeaders(reply, answer);
  // nginx's static module says Accept-Ranges itself: ours would be a second one.
  reply.removeHeader('accept-ranges');
  return reply.header('x-accel-redirect', STORE_LOCATION + storedFileName(answer.key)).send();
}

/** 304 for a client that holds the render's bytes (its If-None-Match names the ETag): its headers, no body. */
export function sendNotModified(reply: FastifyReply, answer: RenderAnswer) {
  renderHeaders(reply, answer);
  reply.removeHeader('content-type');
  return reply.code(304).send();
}

export async function sendRender(request: FastifyRequest, reply: FastifyReply, body: RenderBody, answer: RenderAnswer) {
  const etag = etagFor(answer.key);
  if (matchesIfNoneMatch(request.headers['if-none-match'], etag)) {
    await body.release();
    return sendNotModified(reply, answer);
  }
  renderHeaders(reply, answer);
  const range = resolveRange(body.size, request.headers.range, header(request.headers['if-range']), etag);
  if (range.kind === 'unsatisfiable') {
    await body.release();
    throw new RangeNotSatisfiable(body.size);
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, body.size - 1];
  if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${body.size}`);
  reply.header('content-length', String(end - start + 1));
  if (request.method === 'HEAD' || body.size === 0) {
    await body.release();
    return reply.send();
  }
  return reply.send(body.slice(start, end));
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
