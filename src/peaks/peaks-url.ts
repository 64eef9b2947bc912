// Owns the peaks URL: /sources/{source}/peaks.{json|dat}?samples_per_pixel=N&bits=B. Which resolutions
// and bit depths exist, their defaults, parsing the path and the query (an unknown parameter or value is
// 400), and the one canonical spelling every other spelling redirects to, so caches hold one copy.
import { BadRequest } from '../errors.js';
import { parseSourcePath, type SourcePath, sourcePathFor } from '../segments/segment-url.js';

export const SOURCES_PREFIX = '/sources/';

/**
 * The resolutions served (samples per min/max pair). Every one is a multiple of the finest, so each is
 * derived exactly from the finest by merging whole bins (peaks-levels.ts). 256 is audiowaveform's default
 * zoom and the finest peaks.js asks for by default; 32768 draws an hour at 44.1 kHz in ~4,800 pixels.
 */
export const SAMPLES_PER_PIXEL = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768] as const;
export const FINEST_SAMPLES_PER_PIXEL = SAMPLES_PER_PIXEL[0];
export const DEFAULT_SAMPLES_PER_PIXEL = 256;
/** 8 bits (what peaks.js recommends for the web: half the bytes) unless asked; audiowaveform's own default is 16. */
export const PEAK_BITS = [8, 16] as const;
export const DEFAULT_BITS = 8;

export type PeaksFormat = 'json' | 'dat';
export type PeakBits = (typeof PEAK_BITS)[number];

export interface PeaksRequest {
  source: SourcePath;
  format: PeaksFormat;
  samplesPerPixel: number;
  bits: PeakBits;
}

/** What each parameter takes, in words, for 400 answers and the docs. */
export const PEAKS_QUERY_PARAMETERS = {
  samples_per_pixel: `one of ${SAMPLES_PER_PIXEL.join(', ')} (default ${DEFAULT_SAMPLES_PER_PIXEL})`,
  bits: `8 or 16 (default ${DEFAULT_BITS})`,
} as const;

const PEAKS_PATH = /^(.*)\/peaks\.(json|dat)$/;

/** True when a /sources/... path (no query) names a source's peaks rather than the source. */
export function isPeaksPath(rawPath: string): boolean {
  return rawPath.startsWith(SOURCES_PREFIX) && PEAKS_PATH.test(rawPath);
}

/** Parses a peaks path (no query) and its query, as Fastify parsed it (a repeated name is an array). */
export function parsePeaksRequest(rawPath: string, query: Record<string, unknown>): PeaksRequest {
  const match = PEAKS_PATH.exec(rawPath.slice(SOURCES_PREFIX.length));
  if (!match) throw new BadRequest('Expected /sources/{source}/peaks.json or /sources/{source}/peaks.dat.');
  const unknown = Object.keys(query).find((name) => !(name in PEAKS_QUERY_PARAMETERS));
  if (unknown !== undefined) {
    throw new BadRequest(
      `Unknown query parameter '${unknown.slice(0, 40)}'; peaks take only: ${Object.keys(PEAKS_QUERY_PARAMETERS).join(', ')}.`,
    );
  }
  return {
    source: parseSourcePath(match[1] ?? ''),
    format: match[2] as PeaksFormat,
    samplesPerPixel: oneOf(query, 'samples_per_pixel', SAMPLES_PER_PIXEL, DEFAULT_SAMPLES_PER_PIXEL),
    bits: oneOf(query, 'bits', PEAK_BITS, DEFAULT_BITS),
  };
}

function oneOf<T extends number>(
  query: Record<string, unknown>,
  name: keyof typeof PEAKS_QUERY_PARAMETERS,
  allowed: readonly T[],
  fallback: T,
): T {
  const given = query[name];
  if (given === undefined) return fallback;
  // Digits only: '0256', '256.0' or '+256' would be other spellings of one resource.
  const value = typeof given === 'string' && /^[1-9][0-9]{0,5}$/.test(given) ? Number(given) : Number.NaN;
  if (!(allowed as readonly number[]).includes(value)) {
    throw new BadRequest(`Query parameter '${name}' takes ${PEAKS_QUERY_PARAMETERS[name]}, given once.`);
  }
  return value as T;
}

/** The one spelling of a peaks URL: the source percent-encoded per segment, defaults left out, this order. */
export function canonicalPeaksUrl(request: PeaksRequest): string {
  const pairs: string[] = [];
  if (request.samplesPerPixel !== DEFAULT_SAMPLES_PER_PIXEL) pairs.push(`samples_per_pixel=${request.samplesPerPixel}`);
  if (request.bits !== DEFAULT_BITS) pairs.push(`bits=${request.bits}`);
  const path = `${SOURCES_PREFIX}${sourcePathFor(request.source)}/peaks.${request.format}`;
  return pairs.length > 0 ? `${path}?${pairs.join('&')}` : path;
}
