// Owns the canonical spelling of a segment URL: its seconds, its source path, its query's order and
// defaults. Every spelling of a segment redirects (308) to what this writes, and the clip picker at / shows
// what this writes, running this very code in the browser: the whole owner is one function, canonicalForm,
// whose source text the page inlines (clip-picker-html.ts). Hence its rule: canonicalForm uses nothing from
// outside its own body (no import, no module constant, no Node API), which a unit test checks by running
// its text alone. segment-url.ts, seconds.ts and render-options.ts re-export these, so callers import them
// from the module of their concept.
import type { RenderOptions } from '../render/render-spec.js';
import type { SourcePath } from './segment-url.js';

/** What a canonical segment URL is written from. */
export interface CanonicalSegment {
  source: SourcePath;
  startMs: number;
  endMs: number;
  options: RenderOptions;
  download: boolean;
}

/** The canonical writers, built in one closed body so that the page can run them as they are. */
export function canonicalForm() {
  const SEGMENTS_PREFIX = '/segments/';
  /** The bit rate an exact render gets without `bitrate`, so the canonical query leaves it out. */
  const DEFAULT_EXACT_BITRATE = 128;

  /** The one canonical spelling of a time: no leading zeros, no trailing fraction zeros, no bare point. */
  function formatSeconds(ms: number): string {
    const whole = Math.floor(ms / 1000);
    const fraction = String(ms % 1000)
      .padStart(3, '0')
      .replace(/0+$/, '');
    return fraction ? `${whole}.${fraction}` : String(whole);
  }

  /** The canonical path of a source in URLs (no leading slash): each segment percent-encoded on its own. */
  function sourcePathFor(source: SourcePath): string {
    return source.map(encodeURIComponent).join('/');
  }

  /** Canonical query pairs, in a fixed order, defaults left out. */
  function canonicalQuery(options: RenderOptions, download: boolean): [string, string][] {
    const pairs: [string, string][] = [];
    if (options.mode === 'exact') {
      pairs.push(['mode', 'exact']);
      if (options.bitrateKbps !== DEFAULT_EXACT_BITRATE) pairs.push(['bitrate', String(options.bitrateKbps)]);
      if (options.channels !== null) pairs.push(['channels', String(options.channels)]);
      if (options.fadeInMs > 0) pairs.push(['fade_in', formatSeconds(options.fadeInMs)]);
      if (options.fadeOutMs > 0) pairs.push(['fade_out', formatSeconds(options.fadeOutMs)]);
    }
    if (download) pairs.push(['download', '1']);
    return pairs;
  }

  /** The canonical URL (path and query) of a segment. */
  function canonicalSegmentUrl(segment: CanonicalSegment): string {
    const path = `${SEGMENTS_PREFIX}${sourcePathFor(segment.source)}/${formatSeconds(segment.startMs)}-${formatSeconds(segment.endMs)}.mp3`;
    const query = canonicalQuery(segment.options, segment.download)
      .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
      .join('&');
    return query ? `${path}?${query}` : path;
  }

  return { SEGMENTS_PREFIX, DEFAULT_EXACT_BITRATE, formatSeconds, sourcePathFor, canonicalQuery, canonicalSegmentUrl };
}

export const { SEGMENTS_PREFIX, DEFAULT_EXACT_BITRATE, formatSeconds, sourcePathFor, canonicalQuery, canonicalSegmentUrl } =
  canonicalForm();
