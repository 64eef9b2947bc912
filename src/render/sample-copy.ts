// Owns the making of a sample-exact copy (media/sample-cut.ts) from an indexed source: which samples a
// copy spec asks for, reading the frames it needs (and the reservoir before them) in one read, and
// writing the segment: the source's text tags, an Xing frame that describes the segment (frames, bytes,
// seek table, LAME delay, padding and CRCs), then the frames. No ffmpeg: a 30 s copy is one read and one
// write of about 500 KB.
import { open } from 'node:fs/promises';
import type { FrameIndex } from '../media/frame-index.js';
import type { SourceFile } from '../media/source-file.js';
import { localReaders, readRange, type SourceReaders } from '../media/source-reader.js';
import { id3TextTag } from '../media/id3-text.js';
import { buildInfoFrame } from '../media/info-frame.js';
import { crc16, id3v2Length, parseGaplessInfo } from '../media/mp3-frame.js';
import {
  buildSampleCut,
  gaplessDurationMs,
  gaplessSampleCount,
  planSampleCut,
  reservoirFramesBefore,
  type SampleCut,
  type SourceFrames,
} from '../media/sample-cut.js';
import { passingFailure, sourceChangedFailure } from './render-failure.js';
import { type RenderSpec, sampleAt } from './render-spec.js';

/**
 * Source samples [start, end) a copy of `spec` plays: its times to the nearest sample; an end at the
 * source's end (its length in whole milliseconds, where the plan clamps an end past it) is its last sample.
 */
function askedSamples(index: FrameIndex, spec: Pick<RenderSpec, 'startMs' | 'endMs'>): { start: number; end: number } {
  const at = (ms: number) => sampleAt(ms, index.sampleRate);
  const total = gaplessSampleCount(index);
  return { start: at(spec.startMs), end: spec.endMs >= gaplessDurationMs(index) ? total : Math.min(at(spec.endMs), total) };
}

/**
 * Bytes [start, end) of the source for each range, through one open reader: a file handle, or one Range
 * request a range on the origin (only the bytes the cut needs are fetched).
 */
async function readRanges(source: SourceFile, readers: SourceReaders, ranges: Array<[number, number]>): Promise<Buffer[]> {
  const reader = await readers.open(source);
  try {
    return await Promise.all(
      ranges.map(async ([start, end]) => {
        const bytes = await readRange(reader, start, end);
        // The file changed under its index (the next attempt finds it changed): not a fault of its bytes.
        if (bytes.length !== end - start) throw sourceChangedFailure();
        return bytes;
      }),
    );
  } finally {
    await reader.close();
  }
}

/** The seek table: for each percent of the frames, where that frame starts, in 256ths of the stream. */
function seekTable(infoBytes: number, cut: SampleCut, streamBytes: number): Buffer {
  const frames = cut.layout.frames;
  const entry = (percent: number) => Math.floor(((infoBytes + cut.startOf(Math.floor((percent * frames) / 100))) * 256) / streamBytes);
  return Buffer.from(Array.from({ length: 100 }, (_, percent) => Math.min(255, entry(percent))));
}

/** The segment's bytes, in order: text tags, the Xing frame, the frames. */
function segmentBytes(tags: Buffer, cut: SampleCut): Buffer[] {
  const audioBytes = cut.parts.reduce((sum, part) => sum + part.length, 0);
  const musicCrc = cut.parts.reduce((crc, part) => crc16(part, crc), 0);
  // The Xing frame's length depends only on the format (its bit rate is chosen for room), not on the table.
  const sized = buildInfoFrame(cut.firstHeader, { ...cut.layout, audioBytes, finished: { toc: Buffer.alloc(100), musicCrc } });
  const toc = seekTable(sized.length, cut, sized.length + audioBytes);
  const info = buildInfoFrame(cut.firstHeader, { ...cut.layout, audioBytes, finished: { toc, musicCrc } });
  return [tags, info, ...cut.parts];
}

/**
 * Writes the sample-exact copy of `spec` into `output` and returns the samples it plays; null (nothing
 * written) when this source's frames do not allow one there, and the caller cuts whole frames instead.
 * A read or write that fails (EIO, EMFILE) fails as itself, a passing fault (render-pipeline.ts).
 */
export async function writeSampleCopy(
  index: FrameIndex,
  file: string | SourceFile,
  spec: RenderSpec,
  output: string,
  readers: SourceReaders = localReaders,
): Promise<number | null> {
  const { start, end } = askedSamples(index, spec);
  if (end <= start) return null;
  // A first frame whose data fits no rebuilt frame has its reservoir carried by a silent frame before it.
  const plans = [planSampleCut(index, start, end), planSampleCut(index, start, end, 1)].filter((plan) => plan !== null);
  if (plans.length === 0) return null;
  const firstFrame = Math.min(...plans.map((plan) => plan.firstFrame));
  const endFrame = Math.max(...plans.map((plan) => plan.endFrame));
  const from = firstFrame - reservoirFramesBefore(index, firstFrame);
  const base = index.offsets[from]!;
  const [bytes, head] = (await readRanges(typeof file === 'string' ? { file, size: 0, mtimeMs: 0 } : file, readers, [
    [base, index.offsets[endFrame]!],
    [0, index.headTagBytes],
  ])) as [Buffer, Buffer];
  const offsets = Array.from({ length: endFrame - from + 1 }, (_, i) => index.offsets[from + i]! - base);
  const source: SourceFrames = { bytes, from, offsets };
  let cut: SampleCut | null = null;
  for (const plan of plans) cut ??= buildSampleCut(plan, source);
  if (!cut) return null;
  // One gathered write of the parts as they are: no copy of the frames into one buffer.
  const handle = await open(output, 'w');
  try {
    const parts = segmentBytes(id3TextTag(head), cut);
    const { bytesWritten } = await handle.writev(parts);
    const total = parts.reduce((sum, part) => sum + part.length, 0);
    if (bytesWritten !== total) throw passingFailure('The render could not be written whole; retry later.');
  } finally {
    await handle.close();
  }
  return end - start;
}

/**
 * How a stored copy was cut, from its first bytes: a sample cut is the only copy whose LAME tag trims
 * samples (a frame cut's delay and padding are cleared: its frames play whole).
 */
export function copyCutOf(head: Buffer): 'sample' | 'frame' {
  const gapless = parseGaplessInfo(head, Math.min(head.length, id3v2Length(head)));
  return gapless && gapless.padding > 0 ? 'sample' : 'frame';
}
