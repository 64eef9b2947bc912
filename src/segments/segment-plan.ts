// Owns the step from a parsed request to a render: checks it against the source's facts (start inside
// the source, end clamped to its end, length and fades within limits) and names the result by its key.
import { Unprocessable } from '../errors.js';
import { bitrateRange } from '../media/mp3-frame.js';
import type { RenderOptions, RenderSpec } from '../render/render-spec.js';
import { renderKey, type SourceIdentity } from './render-key.js';
import type { SegmentRequest } from './segment-url.js';
import { formatSeconds } from './seconds.js';

export interface SegmentPlan {
  key: string;
  /** The source as the key was made from it. */
  source: SourceIdentity;
  spec: RenderSpec;
}

/**
 * An asked bit rate outside what the source's MPEG version carries (MPEG-2.5 at 8-12 kHz tops out at 64
 * kbps, MPEG-1 starts at 32) is brought to the nearest one LAME would pick anyway, so the key names the
 * bytes really made and two asks that give the same bytes share one render.
 */
function withinFormat(options: RenderOptions, sampleRate: number): RenderOptions {
  if (options.mode !== 'exact') return options;
  const { min, max } = bitrateRange(sampleRate);
  return { ...options, bitrateKbps: Math.min(max, Math.max(min, options.bitrateKbps)) };
}

export function planSegment(
  request: SegmentRequest,
  source: SourceIdentity & { durationMs: number; sampleRate: number },
  /** The longest segment, and SIGNING_KEY to key the render key with when the deployment signs URLs. */
  planning: { maxSegmentSeconds: number; signingKey?: string },
): SegmentPlan {
  if (request.startMs >= source.durationMs) {
    throw new Unprocessable(
      `'start' (${formatSeconds(request.startMs)} s) is at or past the end of the source, which lasts ${formatSeconds(source.durationMs)} s.`,
    );
  }
  // An end past the source's end means its end: the rest of the source.
  const endMs = Math.min(request.endMs, source.durationMs);
  const durationMs = endMs - request.startMs;
  if (durationMs > planning.maxSegmentSeconds * 1000) {
    throw new Unprocessable(`The segment lasts ${formatSeconds(durationMs)} s; segments may last at most ${planning.maxSegmentSeconds} s.`);
  }
  const { options } = request;
  if (options.mode === 'exact' && options.fadeInMs + options.fadeOutMs > durationMs) {
    throw new Unprocessable(
      `fade_in + fade_out (${formatSeconds(options.fadeInMs + options.fadeOutMs)} s) is longer than the segment (${formatSeconds(durationMs)} s).`,
    );
  }
  const spec: RenderSpec = {
    startMs: request.startMs,
    endMs,
    options: withinFormat(options, source.sampleRate),
    sampleRate: source.sampleRate,
  };
  const identity: SourceIdentity = { path: source.path, size: source.size, mtimeMs: source.mtimeMs };
  if (source.validator !== undefined) identity.validator = source.validator;
  return { key: renderKey(identity, spec, planning.signingKey), source: identity, spec };
}
