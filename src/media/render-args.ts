// Owns what ffmpeg is asked to do for a render: a pure function from the render spec to argument lists,
// unit-tested for the exact arguments of each mode. Changing these bytes on purpose means bumping
// RENDERER_VERSION, which is part of every render key, so no store or cache keeps serving old bytes.
import type { RenderOptions } from '../segments/render-options.js';
import type { FrameCut } from './frame-index.js';
import { mp3FrameSeconds } from './mp3-frame.js';

// 2: exact renders trimmed by sample count with a corrected LAME padding; junk removed from copies.
// 3: copies of clean sources cut by byte offset (frame-index.ts): the same audio frames and tags, but the
//    info frame's bit rate and replay-gain fields now come from the cut, not from the whole source.
export const RENDERER_VERSION = 3;

export interface RenderSpec {
  startMs: number;
  /** Already clamped to the source's end. */
  endMs: number;
  options: RenderOptions;
  /** The source's sample rate, which sets its frame length. */
  sampleRate: number;
}

export interface FfmpegInput {
  url: string;
  options: string[];
}

export interface FfmpegArguments {
  inputs: FfmpegInput[];
  outputOptions: string[];
}

/** The source to read: its file and, for a copy, the frames to keep when its frame index knows them. */
export interface RenderInput {
  file: string;
  cut?: FrameCut | null;
}

/**
 * ffmpeg's subfile protocol reads bytes [start, end) of a file as if they were the whole input. The path
 * after `,,:` is taken as it is (commas and all); `file:` keeps a colon in it from reading as a protocol.
 */
function byteRangeUrl(file: string, cut: FrameCut): string {
  return `subfile,,start,${cut.startByte},end,${cut.endByte},,:file:${file}`;
}

/** Seconds as ffmpeg reads them, from whole milliseconds (no float noise). */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** Samples an exact render holds: the asked length at the source's sample rate, to the nearest sample. */
export function exactSampleCount(spec: RenderSpec): number {
  return Math.max(1, Math.round(((spec.endMs - spec.startMs) * spec.sampleRate) / 1000));
}

/** The length a copy asks for: ffmpeg's copy writes no frame at all for under about two frames. */
export function copyLengthMs(spec: RenderSpec): number {
  return Math.max(spec.endMs - spec.startMs, Math.ceil(2000 * mp3FrameSeconds(spec.sampleRate)));
}

const GLOBAL_OPTIONS = ['-nostdin', '-hide_banner'];

export function buildRenderArguments(spec: RenderSpec, input: RenderInput): FfmpegArguments {
  const durationMs = spec.endMs - spec.startMs;
  const common = (audioFrom: number) => [
    '-map', `${audioFrom}:a:0`,
    // Tags come from the whole source (input 0), also when the audio is a byte range of it.
    '-map_metadata', '0',
    '-id3v2_version', '3',
    // The Xing/Info + LAME header is written only into a seekable output: render to a file, not a pipe.
    '-write_xing', '1',
    // Same key, same bytes: no encoder version strings or other run-dependent fields.
    '-fflags', '+bitexact',
    '-f', 'mp3',
  ];
  if (spec.options.mode === 'copy' && input.cut) {
    // The frames to keep, as bytes: no seek at all (see frame-index.ts). Input 0 gives the tags only.
    return {
      inputs: [{ url: input.file, options: GLOBAL_OPTIONS }, { url: byteRangeUrl(input.file, input.cut), options: [] }],
      outputOptions: ['-c:a', 'copy', ...common(1)],
    };
  }
  // Input seeking: the mp3 demuxer reads forward to the frame holding `start` without decoding what comes
  // before. The length is an output option, so it counts from the first frame written.
  const inputs = [{ url: input.file, options: [...GLOBAL_OPTIONS, '-ss', seconds(spec.startMs)] }];
  if (spec.options.mode === 'copy') {
    // -copypriorss 0: drop the frames before `start` that the seek lands on (kept by default), so the
    // copy starts within a frame of the asked start.
    return { inputs, outputOptions: ['-c:a', 'copy', '-copypriorss', '0', '-t', seconds(copyLengthMs(spec)), ...common(0)] };
  }
  const { bitrateKbps, channels, fadeInMs, fadeOutMs } = spec.options;
  // atrim counts samples (after the input seek, which is sample-accurate when decoding): -t would cut on
  // the decoder's frame boundaries.
  const filters: string[] = [`atrim=end_sample=${exactSampleCount(spec)}`];
  if (fadeInMs > 0) filters.push(`afade=t=in:st=0:d=${seconds(fadeInMs)}`);
  if (fadeOutMs > 0) filters.push(`afade=t=out:st=${seconds(durationMs - fadeOutMs)}:d=${seconds(fadeOutMs)}`);
  return {
    inputs,
    outputOptions: [
      '-c:a', 'libmp3lame',
      '-b:a', `${bitrateKbps}k`,
      ...(channels === null ? [] : ['-ac', String(channels)]),
      '-af', filters.join(','),
      '-flags:a', '+bitexact',
      ...common(0),
    ],
  };
}
