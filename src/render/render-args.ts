// Owns what ffmpeg is asked to do for a render: a pure function from the render spec to argument lists,
// unit-tested for the exact arguments of each mode. Changing these bytes on purpose means bumping
// RENDERER_VERSION (render-spec.ts), which is part of every render key, so no store or cache keeps serving old bytes.
import type { DecodeSpan } from '../media/decode-span.js';
import { type FfmpegArguments, STDIN_URL } from '../media/ffmpeg.js';
import type { FrameCut } from '../media/frame-index.js';
import { copyLengthMs, exactSampleCount, type RenderOptions, type RenderSpec } from './render-spec.js';

type ExactOptions = Extract<RenderOptions, { mode: 'exact' }>;

/**
 * The source to read: its file and, when its frame index knows them, the frames a copy keeps or the span an
 * exact render decodes (whose bytes the caller streams into ffmpeg's stdin).
 */
export interface RenderInput {
  file: string;
  /** Options ffmpeg needs to open `file` (a URL on the HTTP origin: ffmpeg.ts's httpInputOptions); none for a local file. */
  openOptions?: string[];
  cut?: FrameCut | null;
  span?: DecodeSpan | null;
  /** The file the caller wrote the span's tags into (span-stream.ts writeSpanTags), when the span has `tags`. */
  tagsFile?: string;
}

/**
 * The cut's byte ranges as one input: ffmpeg's subfile protocol reads bytes [start, end) of a file as if
 * they were all of it, and concat joins several. The source's ID3v2 tag comes along, so ffmpeg reads the
 * same metadata as from the whole file without opening it as a second input (that cost 2.5 ms of a 12 ms
 * copy). The path after `,,:` is taken as it is, commas and all; `file:` keeps a colon in it from reading
 * as a protocol; concat splits on `|`, so such paths get no cut (frame-indexes.ts).
 */
function byteRangesUrl(file: string, cut: FrameCut): string {
  const parts = cut.ranges.map(([start, end]) => `subfile,,start,${start},end,${end},,:file:${file}`);
  return parts.length === 1 ? parts[0]! : `concat:${parts.join('|')}`;
}

/** A copy of the cut's frames: one input, or the whole file beside it when tags follow the frames. */
function copyByIndex(file: string, cut: FrameCut, common: (audioInput: number) => string[]): FfmpegArguments {
  const frames = { url: byteRangesUrl(file, cut), options: [] as string[] };
  if (!cut.tailTags) return { inputs: [{ ...frames, options: GLOBAL_OPTIONS }], outputOptions: ['-c:a', 'copy', ...common(0)] };
  // ID3v1/APE tags are read from a file's end only: the whole source is input 0, for its tags.
  return { inputs: [{ url: file, options: GLOBAL_OPTIONS }, frames], outputOptions: ['-c:a', 'copy', ...common(1)] };
}

/** Seconds as ffmpeg reads them, from whole milliseconds (no float noise). */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

const GLOBAL_OPTIONS = ['-nostdin', '-hide_banner'];

export function buildRenderArguments(spec: RenderSpec, input: RenderInput): FfmpegArguments {
  // A copy is written into a file and gets ffmpeg's own Xing/Info + LAME header, filled in by seeking back
  // at its end. An exact render is written into a pipe (it is streamed as it is encoded): its Info frame is
  // written before encoding instead (render-pipeline.ts).
  const writeXing = spec.options.mode === 'copy' ? '1' : '0';
  const common = (audioInput = 0) => [
    '-map',
    `${audioInput}:a:0`,
    // Tags from input 0: the source itself, or the byte ranges that hold its tag.
    '-map_metadata',
    '0',
    // No chapters: a source's CHAP frames give times in the whole source, wrong in a segment (the sample
    // cut keeps only text tags too).
    '-map_chapters',
    '-1',
    '-id3v2_version',
    '3',
    '-write_xing',
    writeXing,
    // Same key, same bytes: no encoder version strings or other run-dependent fields.
    '-fflags',
    '+bitexact',
    '-f',
    'mp3',
  ];
  if (spec.options.mode === 'copy' && input.cut) {
    // The frames to keep, as bytes, with the source's tags: no seek at all (see frame-index.ts).
    return copyByIndex(input.file, input.cut, common);
  }
  if (spec.options.mode === 'exact' && input.span) {
    // The span's bytes on stdin, named as MP3 (a few frames of near-silence may not probe as MP3:
    // sample-cut.ts); its decode is trimmed to the asked samples by count, then its timestamps start at 0
    // for the fades. Its tags are the ID3v2 tag's, at the span's start; or, when tags follow the frames,
    // those of the tags file, input 0, read as the mp3 the whole source is (decode-span.ts).
    const { startSample, endSample } = input.span;
    const trim = [`atrim=start_sample=${startSample}:end_sample=${endSample}`, 'asetpts=PTS-STARTPTS'];
    const frames = { url: STDIN_URL, options: [...GLOBAL_OPTIONS, '-f', 'mp3'] };
    if (!input.span.tags) return exactArguments(spec.options, spec.endMs - spec.startMs, [frames], trim, common());
    if (!input.tagsFile) throw new Error('a span with tags after its frames needs its tags file');
    // `file:`: a colon in the path does not read as a protocol.
    const tags = { url: `file:${input.tagsFile}`, options: [...GLOBAL_OPTIONS, '-f', 'mp3'] };
    return exactArguments(spec.options, spec.endMs - spec.startMs, [tags, frames], trim, common(1));
  }
  // Input seeking: the mp3 demuxer reads forward to the frame holding `start` (from the file's start: mp3dec.c
  // has no exact seek of its own) and starts the decoder there, cold. The length is an output option, so it
  // counts from the first frame written.
  const inputs = [{ url: input.file, options: [...GLOBAL_OPTIONS, ...(input.openOptions ?? []), '-ss', seconds(spec.startMs)] }];
  if (spec.options.mode === 'copy') {
    // -copypriorss 0: drop the frames before `start` that the seek lands on (kept by default), so the
    // copy starts within a frame of the asked start.
    return { inputs, outputOptions: ['-c:a', 'copy', '-copypriorss', '0', '-t', seconds(copyLengthMs(spec)), ...common()] };
  }
  // atrim counts samples (after the input seek, which is sample-accurate when decoding): -t would cut on
  // the decoder's frame boundaries.
  return exactArguments(spec.options, spec.endMs - spec.startMs, inputs, [`atrim=end_sample=${exactSampleCount(spec)}`], common());
}

/** A re-encode by LAME of the `trim`med decode of the inputs, `durationMs` long, faded and mixed as asked. */
function exactArguments(
  options: ExactOptions,
  durationMs: number,
  inputs: FfmpegArguments['inputs'],
  trim: string[],
  common: string[],
): FfmpegArguments {
  const { bitrateKbps, channels, fadeInMs, fadeOutMs } = options;
  const filters = [...trim];
  if (fadeInMs > 0) filters.push(`afade=t=in:st=0:d=${seconds(fadeInMs)}`);
  if (fadeOutMs > 0) filters.push(`afade=t=out:st=${seconds(durationMs - fadeOutMs)}:d=${seconds(fadeOutMs)}`);
  return {
    inputs,
    outputOptions: [
      '-c:a',
      'libmp3lame',
      '-b:a',
      `${bitrateKbps}k`,
      ...(channels === null ? [] : ['-ac', String(channels)]),
      '-af',
      filters.join(','),
      '-flags:a',
      '+bitexact',
      ...common,
    ],
  };
}
