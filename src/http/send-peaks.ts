// Owns the answer with a source's peaks: the asked resolution derived from the finest (peaks-levels.ts),
// as audiowaveform JSON (streamed a piece at a time: an hour at 256 samples per pixel is megabytes of text)
// or .dat bytes, with an ETag naming the source version and the asked form, and caching headers; 304 for a
// client that holds them; 202 + Location + Retry-After while a long source's peaks are still computed.
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { coarsen } from '../peaks/peaks-levels.js';
import type { PeaksRequest } from '../peaks/peaks-url.js';
import { encodeDat, jsonChunks, type Peaks } from '../peaks/waveform-data.js';

export interface PeaksAnswer {
  /** The peaks key (its source version). */
  key: string;
  asked: PeaksRequest;
  maxAgeSeconds: number;
}

/** Strong: the key names the source version and the numbers follow from it and the asked form. */
export function peaksEtag(answer: Pick<PeaksAnswer, 'key' | 'asked'>): string {
  const { samplesPerPixel, bits, format } = answer.asked;
  return `"${answer.key}-${samplesPerPixel}-${bits}-${format}"`;
}

function peaksHeaders(reply: FastifyReply, answer: PeaksAnswer): FastifyReply {
  return (
    reply
      .header('etag', peaksEtag(answer))
      // Briefly, unlike a segment's day: the URL names the source, not its version, and a replaced source's
      // new numbers should reach the page within a minute. Revalidating costs a 304 (the key is known at once).
      .header('cache-control', `public, max-age=${answer.maxAgeSeconds}`)
  );
}

export function sendPeaksNotModified(reply: FastifyReply, answer: PeaksAnswer) {
  return peaksHeaders(reply, answer).code(304).send();
}

export function sendPeaks(reply: FastifyReply, finest: Peaks, answer: PeaksAnswer) {
  const peaks = coarsen(finest, answer.asked.samplesPerPixel);
  peaksHeaders(reply, answer);
  if (answer.asked.format === 'dat')
    return reply.header('content-type', 'application/octet-stream').send(encodeDat(peaks, answer.asked.bits));
  return reply.header('content-type', 'application/json; charset=utf-8').send(Readable.from(jsonChunks(peaks, answer.asked.bits)));
}

/** Still computing after WAIT_TIMEOUT_MS: look again at `location` (the canonical URL) after Retry-After. Never cached. */
export function sendPeaksAccepted(reply: FastifyReply, location: string, retryAfterSeconds: number) {
  return reply
    .code(202)
    .header('location', location)
    .header('retry-after', String(retryAfterSeconds))
    .header('cache-control', 'no-store')
    .send({ status: 'computing', location, retryAfterSeconds });
}
