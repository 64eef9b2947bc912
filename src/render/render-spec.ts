// Owns what a render is asked to make: its spec (times, mode and options, the source's sample rate), the
// renderer version that is part of every render key, and the lengths derived from a spec.
import { mp3FrameSeconds } from '../media/mp3-frame.js';

// 2: exact renders trimmed by sample count with a corrected LAME padding; junk removed from copies.
// 3: copies of clean sources cut by byte offset (frame-index.ts): the same audio frames and tags, but the
//    info frame's bit rate and replay-gain fields now come from the cut, not from the whole source.
// 4: exact renders streamed while encoded, behind an Info frame written first (frames, delay, padding; no
//    byte count or seek table): issue 12.
// 5: copies of indexed sources cut to the sample by the project's own frame code (render/sample-copy.ts):
//    a rebuilt first frame, an Xing frame with the LAME tag's delay and padding: issue 13.
// 6: exact renders of indexed sources decode only the frames they need, primed (media/decode-span.ts): their
//    first samples are now the source's decode, not a cold decoder's (off by up to ±10,000 for ~1,300 samples);
//    sources with tags after their frames (ID3v1, APE) too, their tags read from a small file of them (same bytes).
//    And no render keeps a source's ID3v2 chapters (their times are the whole source's): ffmpeg's renders
//    copied them before, into exact renders unshifted.
/** Changing a render's bytes on purpose means bumping this: it is part of every render key. */
export const RENDERER_VERSION = 6;

export type RenderMode = 'copy' | 'exact';
export const RENDER_MODES: readonly RenderMode[] = ['copy', 'exact'];

export type RenderOptions =
  | { mode: 'copy' }
  | { mode: 'exact'; bitrateKbps: number; channels: 1 | 2 | null; fadeInMs: number; fadeOutMs: number };

export interface RenderSpec {
  startMs: number;
  /** Already clamped to the source's end. */
  endMs: number;
  options: RenderOptions;
  /** The source's sample rate, which sets its frame length. */
  sampleRate: number;
}

/** The sample at `ms` on a source's gapless timeline, to the nearest sample: where a cut or render starts. */
export function sampleAt(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000);
}

/** Samples an exact render holds: the asked length at the source's sample rate, to the nearest sample. */
export function exactSampleCount(spec: RenderSpec): number {
  return Math.max(1, sampleAt(spec.endMs - spec.startMs, spec.sampleRate));
}

/** The length a copy asks for: ffmpeg's copy writes no frame at all for under about two frames. */
export function copyLengthMs(spec: RenderSpec): number {
  return Math.max(spec.endMs - spec.startMs, Math.ceil(2000 * mp3FrameSeconds(spec.sampleRate)));
}

/** The length a render of this spec must play for (checked after every render). */
export function askedLengthMs(spec: RenderSpec): number {
  return spec.options.mode === 'copy' ? copyLengthMs(spec) : spec.endMs - spec.startMs;
}
