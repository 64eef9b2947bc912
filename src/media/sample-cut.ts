// Owns the sample-exact copy cut: the source's own frames, untouched, behind a first frame rebuilt so
// that it carries its bit reservoir, and an Xing frame whose LAME tag tells a gapless decoder which
// samples to drop at each end. A gapless decoder then plays exactly source samples [start, end): the same
// PCM as the source's own decode, with no re-encoding (issue 13).
//
// Why the first frames need care (ISO 11172-3 §2.4.3.4.7.1, and ffmpeg's mpegaudiodec_template.c): a
// layer III frame's main data may begin up to 511 bytes (255 in MPEG-2/2.5) before its header, in
// earlier frames (the bit reservoir), and each granule's IMDCT output is overlapped with the previous
// granule's, and the synthesis filter bank remembers the last 16 subband slots. So the cut starts
// PRIMING_GRANULES granules before the first frame whose samples are asked: those decode wrong (they are
// dropped by the delay written in the tag) but leave the decoder's state exactly as the source's own
// decode has it. The first kept frame is rebuilt (same side information, main_data_begin 0, a bit rate
// large enough) to hold its own main data and the bytes its successors reach back for, so no decoder
// meets a reservoir it does not have. When no bit rate is large enough, a silent frame that carries the
// reservoir goes before it instead (one frame more of delay).
import type { FrameIndex } from './frame-index.js';
import type { GaplessLayout } from './info-frame.js';
import { bitrateIndexFor, DECODER_DELAY, readFrameHeader } from './mp3-frame.js';

/**
 * Granules decoded before the first asked one, so that its IMDCT overlap and the filter bank's 16 slots
 * come from real data: one granule for the overlap, then 18 slots (576 samples) for the filter bank.
 */
const PRIMING_GRANULES = 2;

/**
 * Frames a gapless decoder decodes before the first it plays, at most: mpg123 (libmpg123's preframes for
 * layer III) skips earlier ones unread, so a cut's priming must fit in them.
 */
const PREROLL_FRAMES = 4;

/** What fills a rebuilt frame's unused bytes: no MPEG sync (0xFF) and no zero runs. */
const ANCILLARY_FILL = 0x55;

/**
 * Audio frames a short cut is given when its padding can say so: ffmpeg cannot open an Xing frame
 * followed by a single frame ("Could not seek"), and its format probe is sure of MP3 only from seven
 * frames on (the Xing frame counts): with fewer, a segment of near-silence can probe as H.263 as well.
 */
const MIN_FRAMES = 6;

/** What a sample cut keeps, in source frame numbers, and the delay and padding its tag states. */
export interface SampleCutPlan {
  /** First source frame in the cut (decoded to prime the decoder, or the first asked one at the source's start). */
  firstFrame: number;
  /** One past the last source frame in the cut. */
  endFrame: number;
  /** Samples of the cut's decode before the first asked sample, less the decoder's 529 (the tag's delay). */
  delay: number;
  /** Samples after the last asked one, plus the decoder's 529 (the tag's padding). */
  padding: number;
  /** Asked samples. */
  samples: number;
  /** Frames decoded to silence before the first source frame (0 or 1): see planSampleCut. */
  silentFrames: number;
}

/** Samples a gapless decoder plays from the whole source: its frames less its tag's delay and padding. */
export function gaplessSampleCount(index: FrameIndex): number {
  return Math.max(0, index.frames * index.samplesPerFrame - index.skipSamples - Math.max(0, index.endTrimSamples));
}

/** The source's length in whole milliseconds (rounded down), as URLs and /sources state it. */
export function gaplessDurationMs(index: FrameIndex): number {
  return Math.floor((gaplessSampleCount(index) * 1000) / index.sampleRate);
}

/**
 * The frames and tag values for source samples [start, end) (gapless numbering), before the first frame
 * is looked at: `silentFrames` frames decoded to silence go before the first source frame.
 */
function planWith(index: FrameIndex, start: number, end: number, silentFrames: number): SampleCutPlan {
  const spf = index.samplesPerFrame;
  const granule = spf === 1152 ? 576 : spf;
  // Raw (undelayed) decode positions of the asked samples in the source: the tag's delay + 529 come first.
  const rawStart = start + index.skipSamples;
  const rawEnd = end + index.skipSamples;
  const firstAsked = Math.floor(rawStart / spf);
  const primed = Math.max(0, firstAsked - Math.ceil((PRIMING_GRANULES * granule) / spf));
  const lastAsked = Math.min(index.frames, Math.ceil(rawEnd / spf));
  const delayFrom = (first: number) => rawStart - (first - silentFrames) * spf - DECODER_DELAY;
  const paddingOf = (first: number, endFrame: number) => (endFrame - first + silentFrames) * spf - (end - start) - delayFrom(first);
  // A short cut gets frames after the asked ones, as many as the padding field holds, up to MIN_FRAMES;
  // then, at the source's end, frames before them, as many as the delay field holds.
  const short = Math.max(0, MIN_FRAMES - (lastAsked - primed + silentFrames));
  const after = Math.max(0, Math.min(short, Math.floor((0xfff - paddingOf(primed, lastAsked)) / spf), index.frames - lastAsked));
  // mpg123 decodes only PREROLL_FRAMES frames before the first one it plays: more would skip the rebuilt frame.
  const preroll = Math.max(0, PREROLL_FRAMES - (firstAsked - primed + silentFrames));
  const before = Math.max(0, Math.min(short - after, Math.floor((0xfff - delayFrom(primed)) / spf), primed, preroll));
  const firstFrame = primed - before;
  const endFrame = lastAsked + after;
  const delay = delayFrom(firstFrame);
  return { firstFrame, endFrame, delay, padding: paddingOf(firstFrame, endFrame), samples: end - start, silentFrames };
}

/**
 * The plan for source samples [start, end), or null when no tag can say it (delays hold 0-4095 samples).
 * A silent frame goes first when the asked start is nearer the source's start than the decoder's own
 * delay (a source without a LAME tag), or when asked for (`silentFrames`: the first frame's reservoir
 * fits no rebuilt frame, and travels in a silent one).
 */
export function planSampleCut(index: FrameIndex, start: number, end: number, silentFrames = 0): SampleCutPlan | null {
  const plan = planWith(index, start, end, silentFrames);
  if (plan.delay < 0 && silentFrames === 0) return planSampleCut(index, start, end, 1);
  return plan.delay >= 0 && plan.delay <= 0xfff && plan.padding >= DECODER_DELAY && plan.padding <= 0xfff ? plan : null;
}

/** Where a frame's parts lie, from its header's first byte. */
interface FrameParts {
  /** Bytes of header and CRC. */
  headBytes: number;
  sideInfoBytes: number;
  mainDataBegin: number;
}

function frameParts(bytes: Buffer, at: number): FrameParts | null {
  const header = readFrameHeader(bytes, at);
  if (!header) return null;
  const headBytes = 4 + ((bytes[at + 1]! & 0x01) === 0 ? 2 : 0);
  // The main data area starts where an Xing tag would: right after the side information.
  const sideInfoBytes = header.xingAt - at - headBytes;
  if (header.xingAt > bytes.length) return null;
  const first = at + headBytes;
  // main_data_begin: the first 9 bits of the side information (8 in MPEG-2/2.5).
  const mainDataBegin = header.samplesPerFrame === 1152 ? (bytes[first]! << 1) | (bytes[first + 1]! >> 7) : bytes[first]!;
  return { headBytes, sideInfoBytes, mainDataBegin };
}

/** The bytes a cut is made of: the source's frames [from, endFrame) as read, and where each starts. */
export interface SourceFrames {
  /** Bytes of source frames [from, endFrame). */
  bytes: Buffer;
  /** Source frame number of the first frame in `bytes`. */
  from: number;
  /** Offset in `bytes` of each frame from `from` to endFrame (endFrame's entry is the end). */
  offsets: number[];
}

/** Source frames to read before a plan's first frame so that its reservoir is among them. */
export function reservoirFramesBefore(index: FrameIndex, firstFrame: number): number {
  // The reservoir is at most 511 bytes of main data; a frame carries at least its length less 38 bytes of it.
  let from = firstFrame;
  let mainData = 0;
  while (from > 0 && mainData < 511) {
    from -= 1;
    mainData += index.offsets[from + 1]! - index.offsets[from]! - 38;
  }
  return firstFrame - from;
}

/** The cut's audio frames, in order (the Xing frame goes before them), and its gapless layout. */
export interface SampleCut {
  /** The audio frames' bytes, in order: the rebuilt or silent frames, then one run of the source's. */
  parts: Buffer[];
  /** Where audio frame k (0 ≤ k < layout.frames) starts in those bytes. */
  startOf(k: number): number;
  layout: GaplessLayout;
  /** Header of a source frame of the cut, for the Xing frame's format. */
  firstHeader: Buffer;
}

/** The main data of frames [from, to) of `source` as one byte run (headers and side information left out). */
function mainDataRun(source: SourceFrames, from: number, to: number): Buffer | null {
  const parts: Buffer[] = [];
  for (let k = from; k < to; k += 1) {
    const at = source.offsets[k - source.from]!;
    const frame = frameParts(source.bytes, at);
    if (!frame) return null;
    parts.push(source.bytes.subarray(at + frame.headBytes + frame.sideInfoBytes, source.offsets[k - source.from + 1]));
  }
  return Buffer.concat(parts);
}

/**
 * A frame of the format of `template` (header at its start) with the given side information (its
 * main_data_begin set to 0) whose main data area holds `head` at its start and `tail` at its end: the
 * smallest bit rate with room. Null when none has room.
 */
function frameHolding(template: Buffer, sideInfo: Buffer, head: Buffer, tail: Buffer): Buffer | null {
  const header = Buffer.from(template.subarray(0, 4));
  header[1] = header[1]! | 0x01; // no CRC: its side information changes
  header[2] = header[2]! & 0x0d; // no padding; the bit rate is chosen below
  const needed = 4 + sideInfo.length + head.length + tail.length;
  const bitrateIndex = bitrateIndexFor(header, needed);
  if (bitrateIndex === null) return null;
  header[2] = header[2]! | (bitrateIndex << 4);
  const format = readFrameHeader(header, 0)!;
  // The unused bytes (ancillary data to a decoder) are not zeros: zeros before data can read as an H.263
  // start code, and ffmpeg's format probe then cannot tell a short segment from H.263.
  const frame = Buffer.alloc(format.length, ANCILLARY_FILL);
  header.copy(frame, 0);
  sideInfo.copy(frame, 4);
  // main_data_begin = 0: this frame's main data starts right after its side information.
  frame[4] = 0;
  if (format.samplesPerFrame === 1152) frame[5] = frame[5]! & 0x7f;
  head.copy(frame, 4 + sideInfo.length);
  tail.copy(frame, frame.length - tail.length);
  return frame;
}

/**
 * The cut of `plan` from the source frames read, or null when the source's frames do not allow it: a
 * reservoir that reaches before the frames read, data out of its frames' order, or (without a silent
 * frame) a first frame whose data fits no rebuilt frame: plan again with one silent frame.
 */
export function buildSampleCut(plan: SampleCutPlan, source: SourceFrames): SampleCut | null {
  const { firstFrame, endFrame, silentFrames } = plan;
  const at = (k: number) => source.offsets[k - source.from]!;
  const first = frameParts(source.bytes, at(firstFrame));
  if (!first) return null;
  const template = source.bytes.subarray(at(firstFrame), at(firstFrame + 1));
  /** The cut: `made` (a rebuilt or silent frame), if any, then the source's frames from `fromFrame` as they are. */
  const cut = (made: Buffer | null, fromFrame: number): SampleCut => {
    // The source's frames as one run: no object per frame (a 30 s cut has over a thousand).
    const run = source.bytes.subarray(at(fromFrame), at(endFrame));
    const lead = made ? 1 : 0;
    return {
      parts: made ? [made, run] : [run],
      startOf: (k) => (k < lead ? 0 : (made?.length ?? 0) + at(fromFrame + k - lead) - at(fromFrame)),
      layout: { frames: lead + endFrame - fromFrame, delay: plan.delay, padding: plan.padding },
      // The Xing frame takes a source frame's format and bit rate: a rebuilt or silent frame's rate is not the source's.
      firstHeader: (run.length > 0 ? run : template).subarray(0, 4),
    };
  };
  const noSideInfo = Buffer.alloc(first.sideInfoBytes);
  const empty = Buffer.alloc(0);
  if (first.mainDataBegin === 0 || firstFrame === 0) {
    // Nothing to carry (at the source's start, the source's own decode has no reservoir either).
    if (silentFrames === 0) return cut(null, firstFrame);
    const silent = frameHolding(template, noSideInfo, empty, empty);
    return silent ? cut(silent, firstFrame) : null;
  }
  // The main data of the frames read up to the end of the first frame's area.
  const run = mainDataRun(source, source.from, firstFrame + 1);
  if (!run) return null;
  const ownArea = at(firstFrame + 1) - at(firstFrame) - first.headBytes - first.sideInfoBytes;
  const ownStart = run.length - ownArea - first.mainDataBegin;
  if (ownStart < 0) return null;
  if (silentFrames > 0) {
    // A silent frame carries the reservoir the first frame reaches back for; the first frame stays as it is.
    const carrier = frameHolding(template, noSideInfo, empty, run.subarray(ownStart, run.length - ownArea));
    return carrier ? cut(carrier, firstFrame) : null;
  }
  // The first frame rebuilt: its own data, then the bytes the next frame's data begins with.
  const next = endFrame > firstFrame + 1 ? frameParts(source.bytes, at(firstFrame + 1)) : null;
  if (endFrame > firstFrame + 1 && !next) return null;
  const nextStart = run.length - (next?.mainDataBegin ?? 0);
  if (nextStart < ownStart) return null;
  const sideInfo = template.subarray(first.headBytes, first.headBytes + first.sideInfoBytes);
  const rebuilt = frameHolding(template, sideInfo, run.subarray(ownStart, nextStart), run.subarray(nextStart));
  return rebuilt ? cut(rebuilt, firstFrame + 1) : null;
}
