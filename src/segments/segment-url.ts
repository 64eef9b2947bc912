// Owns the segment URL: /segments/{source}/{start}-{end}.mp3?{query}. Parses the raw path (each source
// segment percent-decoded on its own). The one canonical URL every spelling redirects to is written by
// canonical-url.ts (browser-safe, so the clip picker runs it too) and re-exported here.
import { BadRequest } from '../errors.js';
import type { RenderOptions } from '../render/render-spec.js';
import { canonicalSegmentUrl, SEGMENTS_PREFIX } from './canonical-url.js';
import { formatSeconds, parseSeconds } from './seconds.js';

export { canonicalSegmentUrl, SEGMENTS_PREFIX, sourcePathFor } from './canonical-url.js';
const MAX_PATH_LENGTH = 2048;
const MAX_NAME_BYTES = 255;

/**
 * A source's path below MEDIA_ROOT, without .mp3: its decoded segments. The one spelling inside the code;
 * it is percent-encoded only for URLs (sourcePathFor) and joined for people (sourceLabel).
 */
export type SourcePath = readonly string[];

export interface SegmentRequest {
  source: SourcePath;
  startMs: number;
  endMs: number;
  options: RenderOptions;
  download: boolean;
}

export interface SegmentPath {
  source: SourcePath;
  startMs: number;
  endMs: number;
}

/** Parses the path part of a raw request URL (no query). Empty segments (doubled slashes) are dropped. */
export function parseSegmentPath(rawPath: string): SegmentPath {
  if (!rawPath.startsWith(SEGMENTS_PREFIX)) throw new BadRequest(`Segment URLs start with ${SEGMENTS_PREFIX}.`);
  if (rawPath.length > MAX_PATH_LENGTH) throw new BadRequest(`The URL path is longer than ${MAX_PATH_LENGTH} characters.`);
  const parts = rawPath
    .slice(SEGMENTS_PREFIX.length)
    .split('/')
    .filter((part) => part !== '');
  const last = parts.pop();
  const times = last === undefined ? null : /^([^-]*)-(.*)\.mp3$/.exec(decodePart(last));
  if (!times || parts.length === 0) {
    throw new BadRequest('Expected /segments/{source}/{start}-{end}.mp3, for example /segments/shows/ep42/754.5-812.mp3.');
  }
  return { source: parts.map(decodeSourceName), ...parseTimes(times[1] ?? '', times[2] ?? '') };
}

/** The {start}-{end} pair: two numbers of seconds, `start < end`. */
export function parseTimes(startText: string, endText: string): { startMs: number; endMs: number } {
  const startMs = parseSeconds(startText, 'start');
  const endMs = parseSeconds(endText, 'end');
  if (endMs <= startMs) throw new BadRequest(`'end' (${formatSeconds(endMs)}) must be greater than 'start' (${formatSeconds(startMs)}).`);
  return { startMs, endMs };
}

/** Parses a bare source path (as in /sources/{source}): its raw, percent-encoded segments. */
export function parseSourcePath(rawSourcePath: string): string[] {
  const parts = rawSourcePath.split('/').filter((part) => part !== '');
  if (parts.length === 0) throw new BadRequest('Name a source: /sources/{source}, for example /sources/demo/tones.');
  if (rawSourcePath.length > MAX_PATH_LENGTH) throw new BadRequest(`The URL path is longer than ${MAX_PATH_LENGTH} characters.`);
  return parts.map(decodeSourceName);
}

function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new BadRequest(`'${part.slice(0, 40)}' is not valid percent-encoding (UTF-8 expected).`);
  }
}

/**
 * A source path as GET /sources lists it and POST /renders takes it: decoded, segments separated by '/'
 * ("My Show (2024)/épisode 1"). The same checks as a URL's segments, without the percent-decoding.
 */
export function parseDecodedSourcePath(sourcePath: string): string[] {
  if (sourcePath.length > MAX_PATH_LENGTH) throw new BadRequest(`The source path is longer than ${MAX_PATH_LENGTH} characters.`);
  const parts = sourcePath.split('/').filter((part) => part !== '');
  if (parts.length === 0) throw new BadRequest("Name a source by its path below the media root, for example 'demo/tones'.");
  return parts.map(checkSourceName);
}

/** One decoded source path segment; anything that could step outside MEDIA_ROOT is refused here already. */
function decodeSourceName(part: string): string {
  return checkSourceName(decodePart(part));
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkSourceName(name: string): string {
  if (name === '.' || name === '..') throw new BadRequest("Source paths may not contain '.' or '..' segments.");
  if (name.includes('/') || name.includes('\\'))
    throw new BadRequest('A source path segment may not contain an encoded slash or backslash.');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this refuses
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new BadRequest('Source paths may not contain NUL or other control characters.');
  // A JSON body can carry half of a UTF-16 pair ("\ud800"): no file name, and no URL can spell it.
  if (LONE_SURROGATE.test(name)) throw new BadRequest('Source paths must be valid Unicode text (a lone UTF-16 surrogate is not).');
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new BadRequest(`A source path segment is longer than ${MAX_NAME_BYTES} bytes.`);
  return name;
}

/** A source's path for people (messages, logs): decoded, as on disk and as GET /sources lists it. */
export function sourceLabel(source: SourcePath): string {
  return source.join('/');
}

/**
 * The canonical URL of a stored render, from the facts written beside it (its source as the canonical,
 * percent-encoded path): how a render known only by its key is named again.
 */
export function canonicalRenderUrl(
  render: { source: string; startMs: number; endMs: number; options: RenderOptions },
  download: boolean,
): string {
  return canonicalSegmentUrl({ ...render, source: render.source.split('/').map((part) => decodeURIComponent(part)), download });
}

/** The readable file name of a segment (Content-Disposition, `segments render`): tones_10-20.5.mp3. */
export function segmentFileName(source: SourcePath, startMs: number, endMs: number): string {
  return `${source[source.length - 1] ?? 'segment'}_${formatSeconds(startMs)}-${formatSeconds(endMs)}.mp3`;
}
