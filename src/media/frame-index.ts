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
import { open } from 'node:fs/promises';
import { id3v2Length, MAX_FRAME_BYTES, readFrameHeader, readXing } from './mp3-frame.js';

export interface FrameIndex {
  readonly sampleRate: number;
  readonly samplesPerFrame: number;
  /** Samples ffmpeg's timeline starts before the first audio frame (see the top of this file). */
  readonly skipSamples: number;
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

/** ffmpeg's delay samples beyond the LAME tag's own (mp3dec.c: start_pad + 528 + 1). */
const FFMPEG_EXTRA_SKIP = 529;
const CHUNK_BYTES = 1 << 20;
/** Encoders whose info tag ffmpeg reads the delay from (mp3dec.c); others' tags it ignores. */
const DELAY_TAGS = /^(LAME|Lavf|Lavc)/;
/** What may follow the last frame of a clean source: ID3v1, APE, Lyrics3 or a trailing ID3v2 tag. */
const TAIL_TAGS = ['TAG', 'APETAGEX', 'LYRICSBEGIN', 'ID3'];

/**
 * Walks the whole source once. Null unless it is a clean chain: frames of one sample rate from after the
 * ID3v2 tag to the end, followed by nothing but tags. Anything else (junk between frames, a truncated last
 * frame) is left to ffmpeg's own seek, whose resynchronisation decides which bytes are frames.
 */
export async function readFrameIndex(file: string): Promise<FrameIndex | null> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const chunk = Buffer.alloc(Math.max(16, Math.min(CHUNK_BYTES, size)));
    await handle.read(chunk, 0, 10, 0);
    const headTagBytes = Math.min(size, id3v2Length(chunk));
    let offset = headTagBytes;
    // At most one frame per 24 bytes (the shortest: 8 kbps MPEG-2.5); grown when a guess falls short.
    let offsets: Float64Array = new Float64Array(Math.max(64, Math.ceil(size / 400)));
    let frames = 0;
    let format: { sampleRate: number; samplesPerFrame: number; skipSamples: number } | null = null;
    while (offset < size) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset);
      const bytes = chunk.subarray(0, bytesRead);
      const atEnd = offset + bytesRead === size;
      let at = 0;
      while (at + MAX_FRAME_BYTES <= bytes.length || (atEnd && at + 4 <= bytes.length)) {
        const header = readFrameHeader(bytes, at);
        if (!header || (format && header.sampleRate !== format.sampleRate)) break;
        if (offset + at + header.length > size) return null; // a truncated last frame
        if (!format) {
          const xing = readXing(bytes, header);
          const tagged = xing !== null && xing.lameAt >= 0 && DELAY_TAGS.test(bytes.toString('latin1', xing.lameAt, xing.lameAt + 4));
          const delay = tagged ? bytes.readUIntBE(xing.lameAt + 21, 3) >> 12 : 0;
          format = { sampleRate: header.sampleRate, samplesPerFrame: header.samplesPerFrame, skipSamples: tagged ? delay + FFMPEG_EXTRA_SKIP : 0 };
          if (xing) {
            at += header.length;
            continue;
          }
        }
        if (frames + 1 >= offsets.length) offsets = grow(offsets);
        offsets[frames++] = offset + at;
        at += header.length;
      }
      offset += at;
      if (at === 0 || (atEnd && at + 4 > bytes.length)) break;
    }
    if (!format || frames === 0) return null;
    if (offset < size && !(await tailIsTags(handle, offset, size))) return null;
    offsets[frames] = offset;
    return { ...format, frames, offsets: offsets.slice(0, frames + 1), headTagBytes, fileBytes: size };
  } finally {
    await handle.close();
  }
}

function grow(offsets: Float64Array): Float64Array {
  const larger = new Float64Array(offsets.length * 2);
  larger.set(offsets);
  return larger;
}

async function tailIsTags(handle: Awaited<ReturnType<typeof open>>, offset: number, size: number): Promise<boolean> {
  const head = Buffer.alloc(Math.min(11, size - offset));
  await handle.read(head, 0, head.length, offset);
  const text = head.toString('latin1');
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
  const ranges: Array<[number, number]> = [[0, index.headTagBytes], [index.offsets[firstFrame]!, index.offsets[endFrame]!]];
  return { firstFrame, endFrame, ranges: ranges.filter(([start, end]) => end > start), tailTags: index.fileBytes > index.offsets[index.frames]! };
}
