// Checks a rendered segment against its source with the independent reader in mp3-frames.ts. Times are
// on the gapless timeline: with a LAME tag, t = 0 is the first sample after the encoder delay plus the
// decoder's 529 samples (what ffmpeg's demuxer and browsers skip); without one, the first sample.
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodePcm, decodesCleanly, ffmpegSamples, gaplessSamples } from './decoders.js';
import { frameBytes, id3TextFrames, readMp3, type Mp3Summary } from './mp3-frames.js';

export interface CopyCheck {
  /** Index of the output's first audio frame among the source's audio frames. */
  firstFrame: number;
  frames: number;
  /** Output start minus asked start, and output end minus asked (clamped) end, in seconds. */
  startError: number;
  endError: number;
}

/** Start time (gapless timeline) of the source's audio frame k. */
export function frameStart(source: Mp3Summary, k: number): number {
  return (k * source.samplesPerFrame - source.startSkip) / source.sampleRate;
}

/**
 * Copy mode: the output's audio frames are a byte-for-byte contiguous run of the source's, starting within
 * one frame of the asked start and ending within one frame of the asked end (the source's end when asked
 * past it); a segment asked shorter than two frames may be two or three frames. The output's Xing/Info
 * header, if any, states its frame count. Throws with the reason when any of that fails.
 */
export function checkCopySegment(source: Mp3Summary, output: Mp3Summary, askedStart: number, askedEnd: number): CopyCheck {
  const frame = source.samplesPerFrame / source.sampleRate;
  const first = output.audioFrames[0];
  if (!first) throw new Error('the output has no audio frame');
  const head = frameBytes(output, first);
  const expected = Math.round((askedStart * source.sampleRate + source.startSkip) / source.samplesPerFrame);
  let best = -1;
  source.audioFrames.forEach((candidate, k) => {
    if (
      candidate.length === first.length &&
      frameBytes(source, candidate).equals(head) &&
      (best < 0 || Math.abs(k - expected) < Math.abs(best - expected))
    )
      best = k;
  });
  if (best < 0) throw new Error("the output's first frame is not a frame of the source");
  output.audioFrames.forEach((outFrame, i) => {
    const sourceFrame = source.audioFrames[best + i];
    if (!sourceFrame || !frameBytes(source, sourceFrame).equals(frameBytes(output, outFrame))) {
      throw new Error(`output frame ${i} is not source frame ${best + i}: the copy is not a contiguous run of the source`);
    }
  });
  const frames = output.audioFrames.length;
  const end = Math.min(askedEnd, source.durationSeconds);
  const check = {
    firstFrame: best,
    frames,
    startError: frameStart(source, best) - askedStart,
    endError: frameStart(source, best + frames) - end,
  };
  const slack = 1e-6;
  if (Math.abs(check.startError) > frame + slack)
    throw new Error(`starts ${check.startError.toFixed(4)} s from the asked start (more than a frame, ${frame.toFixed(4)} s)`);
  const tiny = end - askedStart < 2 * frame;
  if (tiny ? frames > 3 : Math.abs(check.endError) > frame + slack) {
    throw new Error(`ends ${check.endError.toFixed(4)} s from the asked end with ${frames} frames (frame ${frame.toFixed(4)} s)`);
  }
  if (output.info?.frames != null && output.info.frames !== frames)
    throw new Error(`the ${output.info.kind} header says ${output.info.frames} frames; there are ${frames}`);
  return check;
}

export interface SegmentAsk {
  start: number;
  end: number;
  mode: 'copy' | 'exact';
  bitrate?: number;
  channels?: number;
}

/** A copy cut to the sample: what mpg123 plays of it against the source's own decode. */
export interface SampleCheck {
  /** Samples played, and the largest difference from the source's samples (16-bit LSB). */
  samples: number;
  maxDifference: number;
}

/** A sample cut is a copy whose LAME tag trims samples; a frame cut's frames all play (delay and padding 0). */
export function isSampleCut(output: Mp3Summary): boolean {
  return (output.info?.lame?.padding ?? 0) > 0;
}

/** mpg123's decode of each source, once (keyed by the source's bytes). */
const sourceDecodes = new WeakMap<Buffer, Promise<Int16Array>>();

async function decodeBytes(bytes: Buffer, scratchDir: string): Promise<Int16Array> {
  const file = path.join(scratchDir, `${randomUUID()}.mp3`);
  await writeFile(file, bytes);
  try {
    return (await decodePcm(file, 'mpg123')).parts[0]!;
  } finally {
    await rm(file, { force: true });
  }
}

/**
 * A sample cut must play exactly source samples [round(start·rate), round(end·rate)) (the end at most the
 * source's), equal to mpg123's decode of the source within 1 LSB. Throws with the reason.
 */
export async function checkSampleSegment(
  source: Mp3Summary,
  segmentFile: string,
  ask: SegmentAsk,
  scratchDir: string,
): Promise<SampleCheck> {
  let decoded = sourceDecodes.get(source.bytes);
  if (!decoded) {
    decoded = decodeBytes(source.bytes, scratchDir);
    sourceDecodes.set(source.bytes, decoded);
  }
  const whole = await decoded;
  const channels = source.channels;
  // Times are whole milliseconds: rounded as such, so a float's noise never moves a sample.
  const sampleAt = (seconds: number) => Math.round((Math.round(seconds * 1000) * source.sampleRate) / 1000);
  const start = sampleAt(ask.start);
  // An end at or past the source's end (its length in whole ms, as /sources states it) is its last sample.
  const total = whole.length / channels;
  const end = Math.round(ask.end * 1000) >= Math.floor((total * 1000) / source.sampleRate) ? total : sampleAt(ask.end);
  const got = (await decodePcm(segmentFile, 'mpg123')).parts[0]!;
  if (got.length / channels !== end - start) throw new Error(`a sample cut plays ${got.length / channels} samples, asked ${end - start}`);
  const expected = whole.subarray(start * channels, end * channels);
  let maxDifference = 0;
  for (let i = 0; i < got.length; i += 1) maxDifference = Math.max(maxDifference, Math.abs(got[i]! - expected[i]!));
  if (maxDifference > 1) throw new Error(`a sample cut differs from the source's own samples by up to ${maxDifference}`);
  return { samples: end - start, maxDifference };
}

export interface SegmentVerdict {
  output: Mp3Summary;
  /** Seconds the gapless-aware mpg123 plays, and what ffmpeg's decoder gives. */
  mpg123Seconds: number;
  /** exact mode: what ffmpeg's decoder gives (reported, not held to the millisecond). */
  ffmpegSeconds?: number;
  /** Copy mode: a frame cut's check, or a sample cut's. */
  copy?: CopyCheck;
  sample?: SampleCheck;
}

const KEPT_TAGS = ['TIT2', 'TPE1', 'TALB'];

/**
 * Every check the test suite makes of one rendered segment: strict frame structure, a copy's samples (a
 * sample cut) or its contiguity and frame accuracy (a frame cut), exact-mode gapless length (±1 ms, by mpg123), asked bit rate and channels, a clean
 * decode, and the source's ID3 text tags kept. Throws with the reason on the first failure.
 */
export async function checkSegment(source: Mp3Summary, body: Buffer, ask: SegmentAsk, scratchDir: string): Promise<SegmentVerdict> {
  const output = readMp3(body, { strict: true });
  if (output.sampleRate !== source.sampleRate) throw new Error(`sample rate ${output.sampleRate}, the source has ${source.sampleRate}`);
  const file = path.join(scratchDir, `${randomUUID()}.mp3`);
  await writeFile(file, body);
  try {
    const decodeError = await decodesCleanly(file);
    if (decodeError) throw new Error(decodeError);
    // A sample cut's check decodes it with mpg123 already (one decoder run per segment, not two).
    const sample = ask.mode === 'copy' && isSampleCut(output) ? await checkSampleSegment(source, file, ask, scratchDir) : undefined;
    const played = sample ? sample.samples : await gaplessSamples(file, output.channels);
    const mpg123Seconds = played / output.sampleRate;
    const verdict: SegmentVerdict = { output, mpg123Seconds, ...(sample ? { sample } : {}) };
    if (ask.mode === 'copy' && !sample) {
      verdict.copy = checkCopySegment(source, output, ask.start, ask.end);
      // Its LAME tag (if any) must let a gapless player play the frames copied, not skip or trim into them.
      const frame = output.samplesPerFrame / output.sampleRate;
      if (Math.abs(mpg123Seconds - output.rawDurationSeconds) > frame) {
        throw new Error(
          `a gapless decoder plays ${mpg123Seconds.toFixed(4)} s of ${output.rawDurationSeconds.toFixed(4)} s of frames copied`,
        );
      }
    } else if (ask.mode === 'exact') {
      const asked = Math.min(ask.end, source.durationSeconds) - ask.start;
      verdict.ffmpegSeconds = (await ffmpegSamples(file, output.channels)) / output.sampleRate;
      // Half a sample of slack on top of the millisecond: lengths are whole samples.
      if (Math.abs(mpg123Seconds - asked) > 0.001 + 0.5 / output.sampleRate) {
        throw new Error(`exact mode: mpg123 plays ${mpg123Seconds.toFixed(5)} s, asked ${asked.toFixed(5)} s`);
      }
      const expectedChannels = ask.channels ?? source.channels;
      if (output.channels !== expectedChannels) throw new Error(`${output.channels} channel(s), expected ${expectedChannels}`);
      // The asked bit rate, or the nearest one the source's MPEG version carries (the README's rule).
      const [min, max] = source.sampleRate >= 32000 ? [32, 320] : source.sampleRate >= 16000 ? [8, 160] : [8, 64];
      const bitrate = Math.min(max, Math.max(min, ask.bitrate ?? 128));
      if (output.audioFrames.some((frame) => frame.bitrateKbps !== bitrate)) {
        throw new Error(
          `frames at ${[...new Set(output.audioFrames.map((frame) => frame.bitrateKbps))].join('/')} kbps, expected ${bitrate}`,
        );
      }
    }
    const sourceTags = id3TextFrames(source.bytes);
    const outputTags = id3TextFrames(body);
    for (const id of KEPT_TAGS) {
      if (sourceTags[id] !== undefined && outputTags[id] !== sourceTags[id])
        throw new Error(`ID3 ${id} is ${JSON.stringify(outputTags[id])}, the source's is ${JSON.stringify(sourceTags[id])}`);
    }
    return verdict;
  } finally {
    await rm(file, { force: true });
  }
}
