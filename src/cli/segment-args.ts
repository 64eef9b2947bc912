// Owns how the CLI names a segment: a source path as on disk below MEDIA_ROOT (decoded, '/'-separated, an
// optional .mp3 dropped), start and end in seconds, and the URL's render parameters by their query names.
// Every check is the service's own (segment-url.ts, render-options.ts), so the CLI refuses what it refuses.
import { parseRenderOptions, type SegmentQuery } from '../segments/render-options.js';
import { parseDecodedSourcePath, parseTimes, type SegmentRequest } from '../segments/segment-url.js';

/** A segment as text: from the command line or a row of a warm list. */
export interface SegmentFields extends Omit<SegmentQuery, 'sig' | 'download'> {
  source: string;
  start: string;
  end: string;
}

/** The render parameters a segment may carry besides source, start and end (query names). */
export const PARAMETER_FIELDS = ['mode', 'bitrate', 'channels', 'fade_in', 'fade_out'] as const;

export function parseCliSource(text: string): string[] {
  return parseDecodedSourcePath(text.replace(/\.mp3$/i, ''));
}

/** Throws the service's BadRequest (turned into exit 2 by asCliErrors). */
export function segmentFrom(fields: SegmentFields): SegmentRequest {
  const query: SegmentQuery = {};
  for (const name of PARAMETER_FIELDS) if (fields[name] !== undefined && fields[name] !== '') query[name] = fields[name];
  return {
    source: parseCliSource(fields.source),
    ...parseTimes(fields.start, fields.end),
    options: parseRenderOptions(query),
    download: false,
  };
}
