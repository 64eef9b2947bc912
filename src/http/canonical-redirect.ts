// Owns the answer that sends a non-canonical spelling to the canonical URL (segments, peaks): a 308 kept
// briefly by browsers and never by nginx (nginx.conf: proxy_no_cache on a Location).
import type { FastifyReply } from 'fastify';

/**
 * How long a 308 to the canonical URL may be kept: briefly, so that spellings (leading zeros, `//`,
 * percent-encodings) cannot fill caches for a day; every cache still ends up holding one copy per resource.
 */
export const REDIRECT_MAX_AGE_SECONDS = 60;

export function redirectToCanonical(reply: FastifyReply, location: string) {
  return reply.code(308).header('location', location).header('cache-control', `public, max-age=${REDIRECT_MAX_AGE_SECONDS}`).send();
}
