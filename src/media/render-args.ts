// Owns what ffmpeg is asked to do for a render: a pure function from the render spec to argument lists,
// unit-tested for the exact arguments of each mode. Changing these bytes on purpose means bumping
// RENDERER_VERSION, which is part of every render key, so no store or cache keeps serving old bytes.
import type { RenderOptions } from '../segments/render-options.js';
import { mp3FrameSeconds } from './mp3-frame.js';

// 2: exact renders trimmed by sample count with a corrected LAME padding; junk removed from copies.
export const RENDERER_VERSION = 2;

export interface RenderSpec {
  startMs: number;
  /** Already clamped to the source's end. */
  endMs: number;
  options: RenderOptions;
  /** The source's sample rate, which sets its frame length. */
  sampleRate: number;
}

export interface FfmpegArguments {
  inputOptions: string[];
  outputOptions: string[];
}

/** Seconds as ffmpeg reads them, from whole milliseconds (no float noise). */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Samples an exact render holds: the asked length at the source's sample rate, to the nearest sample. */
export function exactSampleCount(spec: RenderSpec): number {
  return Math.max(1, Math.round(((spec.endMs - spec.startMs) * spec.sampleRate) / 1000));
}

export function buildRenderArguments(spec: RenderSpec): FfmpegArguments {
  const durationMs = spec.endMs - spec.startMs;
  // Input seeking: the mp3 demuxer reads forward to the frame holding `start` without decoding what comes
  // before. The length is an output option, so it counts from the first frame written.
  const inputOptions = ['-nostdin', '-hide_banner', '-ss', seconds(spec.startMs)];
  const common = [
    '-map', '0:a:0',
    '-map_metadata', '0',
    '-id3v2_version', '3',
    // The Xing/Info + LAME header is written only into a seekable output: render to a file, not a pipe.
    '-write_xing', '1',
    // Same key, same bytes: no encoder version strings or other run-dependent fields.
    '-fflags', '+bitexact',
    '-f', 'mp3',
  ];
  if (spec.options.mode === 'copy') {
    // -copypriorss 0: drop the frames before `start` that the seek lands on (kept by default), so the
    // copy starts within a frame of the asked start.
    // ffmpeg's copy writes no frame at all for a length under about two frames: ask for at least that.
    const copyMs = Math.max(durationMs, Math.ceil(2000 * mp3FrameSeconds(spec.sampleRate)));
    return { inputOptions, outputOptions: ['-c:a', 'copy', '-copypriorss', '0', '-t', seconds(copyMs), ...common] };
  }
  const { bitrateKbps, channels, fadeInMs, fadeOutMs } = spec.options;
  // atrim counts samples (after the input seek, which is sample-accurate when decoding): -t would cut on
  // the decoder's frame boundaries.
  const filters: string[] = [`atrim=end_sample=${exactSampleCount(spec)}`];
  if (fadeInMs > 0) filters.push(`afade=t=in:st=0:d=${seconds(fadeInMs)}`);
  if (fadeOutMs > 0) filters.push(`afade=t=out:st=${seconds(durationMs - fadeOutMs)}:d=${seconds(fadeOutMs)}`);
  return {
    inputOptions,
    outputOptions: [
      '-c:a', 'libmp3lame',
      '-b:a', `${bitrateKbps}k`,
      ...(channels === null ? [] : ['-ac', String(channels)]),
      '-af', filters.join(','),
      '-flags:a', '+bitexact',
      ...common,
    ],
  };
}
