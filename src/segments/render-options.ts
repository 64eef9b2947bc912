// Owns the query string of a segment URL: which parameters exist, their schema, their defaults, and the
// canonical order they are written in (canonical-url.ts writes that order, so the clip picker runs it too).
import { BadRequest } from '../errors.js';
import { RENDER_MODES, type RenderOptions } from '../render/render-spec.js';
import { DEFAULT_EXACT_BITRATE } from './canonical-url.js';
import { parseSeconds, SECONDS_PATTERN } from './seconds.js';
import { SIGNATURE_PATTERN } from './url-signature.js';

export { canonicalQuery, DEFAULT_EXACT_BITRATE } from './canonical-url.js';

/** Bit rates libmp3lame accepts across MPEG-1, -2 and -2.5 (kbps). */
export const MP3_BITRATES = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320] as const;

export interface SegmentQuery {
  mode?: string;
  bitrate?: string;
  channels?: string;
  fade_in?: string;
  fade_out?: string;
  download?: string;
  /** The URL's signature (when the deployment signs URLs; ignored and dropped otherwise). */
  sig?: string;
}

/** What each parameter takes, in words; used for the schema's error messages. */
export const QUERY_PARAMETERS: Record<keyof SegmentQuery, string> = {
  mode: "'copy' (default: the source's frames, cut to the sample) or 'exact' (re-encoded)",
  bitrate: `kbps for mode=exact, one of ${MP3_BITRATES.join(', ')} (default ${DEFAULT_EXACT_BITRATE})`,
  channels: '1 or 2, for mode=exact (default: as the source)',
  fade_in: 'seconds of fade-in, for mode=exact',
  fade_out: 'seconds of fade-out, for mode=exact',
  download: "'1' to answer as an attachment (a download link)",
  sig: 'the URL signature (43 base64url characters, last in the query), where URLs are signed',
};

/** Fastify route schema for the query: unknown parameters are rejected so random ones cannot bust caches. */
export const segmentQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: RENDER_MODES },
    bitrate: { type: 'string', enum: MP3_BITRATES.map(String) },
    channels: { type: 'string', enum: ['1', '2'] },
    fade_in: { type: 'string', pattern: SECONDS_PATTERN },
    fade_out: { type: 'string', pattern: SECONDS_PATTERN },
    download: { type: 'string', enum: ['1'] },
    sig: { type: 'string', pattern: SIGNATURE_PATTERN },
  },
} as const;

const EXACT_ONLY = ['bitrate', 'channels', 'fade_in', 'fade_out'] as const;

export function parseRenderOptions(query: SegmentQuery): RenderOptions {
  const mode = query.mode ?? 'copy';
  if (mode !== 'copy' && mode !== 'exact') throw new BadRequest(`Query parameter 'mode' takes ${QUERY_PARAMETERS.mode}.`);
  if (mode === 'copy') {
    const misplaced = EXACT_ONLY.find((name) => query[name] !== undefined);
    if (misplaced) throw new BadRequest(`'${misplaced}' applies only to mode=exact; add mode=exact or drop it.`);
    return { mode };
  }
  const bitrateKbps = query.bitrate === undefined ? DEFAULT_EXACT_BITRATE : Number(query.bitrate);
  if (!(MP3_BITRATES as readonly number[]).includes(bitrateKbps))
    throw new BadRequest(`Query parameter 'bitrate' takes ${QUERY_PARAMETERS.bitrate}.`);
  const channels = query.channels === undefined ? null : Number(query.channels);
  if (channels !== null && channels !== 1 && channels !== 2)
    throw new BadRequest(`Query parameter 'channels' takes ${QUERY_PARAMETERS.channels}.`);
  return {
    mode,
    bitrateKbps,
    channels,
    fadeInMs: query.fade_in === undefined ? 0 : parseSeconds(query.fade_in, 'fade_in'),
    fadeOutMs: query.fade_out === undefined ? 0 : parseSeconds(query.fade_out, 'fade_out'),
  };
}
