// Owns a source's frame index: where each audio frame starts, so a copy render can give ffmpeg exactly the
// bytes of the frames it keeps. Without it, ffmpeg 4.1's accurate seek (`-ss` before `-i`) finds its point
// by reading every packet from the file's start: 100 ms of a 30 s copy at the middle of an hour-long
// source, 155 ms at its end, against about 20 ms for the same frames handed over as a byte range.
//
// The frames chosen are the ones `-ss S -copypriorss 0 -t D` keeps, so renders stay byte for byte what
// they were (test/unit/media/frame-index.test.ts runs both on the corpus): ffmpeg's timeline puts audio
// frame k at (k × samplesPerFrame − skip) / sampleRate, where skip is the LAME tag's encoder delay + 529
// (mp3dec.c's start_skip_samples) when the first frame carries one, else 0; it keeps the frames from the
// first one at or after S while they start before S + D.
import { DECODER_DELAY, readXing, walkSource } from './mp3-frame.js';
import type { SourceFile } from './source-file.js';
import { localReaders, readRange, type SourceReader, type SourceReaders } from './source-reader.js';

export interface FrameIndex {
  readonly sampleRate: number;
  readonly samplesPerFrame: number;
  /** 1 (mono) or 2, from the first frame's channel mode. */
  readonly channels: number;
  /** Samples ffmpeg's timeline starts before the first audio frame (see the top of this file). */
  readonly skipSamples: number;
  /** Samples ffmpeg's timeline drops at the end: the LAME tag's padding less the decoder's 529 (0 without a tag). */
  readonly endTrimSamples: number;
  /** Audio frames (a Xing/Info frame is not one). */
  readonly frames: number;
  /** Byte offset of audio frame k, for k = 0..frames; entry `frames` is where the last frame ends. */
  readonly offsets: Float64Array;
  /** Bytes of the ID3v2 tag before the frames (0 without one), and of the whole file (tags after the frames). */
  readonly headTagBytes: number;
  readonly fileBytes: number;
}

/** Frames [first, end) of a source, and the byte ranges [start, end) ffmpeg reads for them, in order. */
export interface FrameCut {
  firstFrame: number;
  endFrame: number;
  /** The ID3v2 tag before the frames (if any), then the frames. */
  ranges: Array<[number, number]>;
  /**
   * The source has tags after its frames (ID3v1, APE), which ffmpeg reads only from the end of a whole file:
   * its tags must then come from the file itself, as a second input.
   */
  tailTags: boolean;
}

type StreamFormat = Pick<FrameIndex, 'sampleRate' | 'samplesPerFrame' | 'channels' | 'skipSamples' | 'endTrimSamples'>;

/** Encoders whose info tag ffmpeg reads the delay from (mp3dec.c); others' tags it ignores. */
const DELAY_TAGS = /^(LAME|Lavf|Lavc)/;
/** What may follow the last frame of a clean source: ID3v1, APE, Lyrics3 or a trailing ID3v2 tag. */
const TAIL_TAGS = ['TAG', 'APETAGEX', 'LYRICSBEGIN', 'ID3'];

/**
 * Walks the whole source once. Null unless it is a clean chain: frames of one sample rate from after the
 * ID3v2 tag to the end, followed by nothing but tags. Anything else (junk between frames, a truncated last
 * frame) is left to ffmpeg's own seek, whose resynchronisation decides which bytes are frames.
 */
export async function readFrameIndex(
  source: string | Pick<SourceFile, 'file' | 'size'>,
  readers: SourceReaders = localReaders,
): Promise<FrameIndex | null> {
  const reader = await readers.open(typeof source === 'string' ? { file: source, size: 0 } : source);
  try {
    return await indexOf(reader);
  } finally {
    await reader.close();
  }
}

async function indexOf(reader: SourceReader): Promise<FrameIndex | null> {
  // At most one frame per 24 bytes (the shortest: 8 kbps MPEG-2.5); grown when a guess falls short.
  let offsets: Float64Array = new Float64Array(64);
  let frames = 0;
  let format: StreamFormat | null = null;
  const walk = await walkSource(reader, ({ header, offset, chunk, at, first }, size) => {
    if (offset + header.length > size) return false; // a truncated last frame
    if (first) {
      if (offsets.length < size / 400) offsets = new Float64Array(Math.ceil(size / 400));
      const xing = readXing(chunk, header);
      const tagged = xing !== null && xing.lameAt >= 0 && DELAY_TAGS.test(chunk.toString('latin1', xing.lameAt, xing.lameAt + 4));
      // A VBRI header (Fraunhofer's) is not audio either, and carries no delays ffmpeg reads: left to ffmpeg.
      if (!xing && chunk.toString('latin1', at + 36, at + 40) === 'VBRI') return false;
      const delays = tagged ? chunk.readUIntBE(xing.lameAt + 21, 3) : 0;
      format = {
        sampleRate: header.sampleRate,
        samplesPerFrame: header.samplesPerFrame,
        channels: chunk[at + 3]! >> 6 === 3 ? 1 : 2,
        skipSamples: tagged ? (delays >> 12) + DECODER_DELAY : 0,
        endTrimSamples: tagged ? Math.max(0, (delays & 0xfff) - DECODER_DELAY) : 0,
      };
      if (xing) return true; // the info frame is not audio
    }
    if (frames + 1 >= offsets.length) offsets = grow(offsets);
    offsets[frames++] = offset;
    return true;
  });
  const found = format as StreamFormat | null; // set in the walk's callback, which TypeScript does not follow
  if (!walk || !found || frames === 0) return null;
  if (walk.end < walk.size && !(await tailIsTags(reader, walk.end, walk.size))) return null;
  offsets[frames] = walk.end;
  return { ...found, frames, offsets: offsets.slice(0, frames + 1), headTagBytes: walk.headTagBytes, fileBytes: walk.size };
}

function grow(offsets: Float64Array): Float64Array {
  const larger = new Float64Array(offsets.length * 2);
  larger.set(offsets);
  return larger;
}

async function tailIsTags(reader: SourceReader, offset: number, size: number): Promise<boolean> {
  const text = (await readRange(reader, offset, Math.min(size, offset + 11))).toString('latin1');
  return TAIL_TAGS.some((tag) => text.startsWith(tag));
}

/**
 * The frames ffmpeg's `-ss start -copypriorss 0 -t length` keeps, in whole numbers (samples × 1000), so a
 * start on a frame's edge falls the same side every time. Null when no frame starts in the range.
 */
export function cutFrames(index: FrameIndex, startMs: number, lengthMs: number): FrameCut | null {
  const { sampleRate, samplesPerFrame, skipSamples } = index;
  const perFrame = samplesPerFrame * 1000;
  // Frame k starts at or after t ⇔ k × samplesPerFrame − skip ≥ t × sampleRate / 1000.
  const firstAtOrAfter = (ms: number) => Math.max(0, Math.ceil((ms * sampleRate + skipSamples * 1000) / perFrame));
  const firstFrame = firstAtOrAfter(startMs);
  const endFrame = Math.min(index.frames, firstAtOrAfter(startMs + lengthMs));
  if (firstFrame >= endFrame) return null;
  return { firstFrame, endFrame, ranges: frameRanges(index, firstFrame, endFrame), tailTags: hasTailTags(index) };
}

/** The bytes that give ffmpeg frames [firstFrame, endFrame) with the source's tags: its ID3v2 tag (if any), then the frames. */
export function frameRanges(index: FrameIndex, firstFrame: number, endFrame: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [
    [0, index.headTagBytes],
    [index.offsets[firstFrame]!, index.offsets[endFrame]!],
  ];
  return ranges.filter(([start, end]) => end > start);
}

/** Whether tags follow the frames (ID3v1, APE), which ffmpeg reads only from the end of a whole, seekable file. */
export function hasTailTags(index: FrameIndex): boolean {
  return index.fileBytes > index.offsets[index.frames]!;
}
