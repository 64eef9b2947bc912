// The span an exact render decodes, on made-up indexes: which frames (the asked ones and those priming the
// decoder), which bytes, and which of the decoded samples are the asked ones. That ffmpeg then decodes
// exactly the whole source's samples is proved on the corpus (test/integration/exact-span.test.ts).
import { describe, expect, it } from 'vitest';
import { decodeSpan } from '../../../src/media/decode-span.js';
import type { FrameIndex } from '../../../src/media/frame-index.js';
import { madeUpIndex } from '../../helpers/made-up-index.js';

/** `frames` frames of `bytes` bytes each after a 1,000-byte ID3v2 tag and a 418-byte Info frame; a LAME delay of 576. */
function index(change: Partial<FrameIndex> & { frames: number; bytes?: number }): FrameIndex {
  return madeUpIndex({ from: 1_418, headTagBytes: 1_000, skipSamples: 576 + 529, endTrimSamples: 1_000, ...change });
}

describe('decodeSpan', () => {
  it('decodes from three frames before the one holding the start: the one before it and the two its reservoir may reach into', () => {
    // Gapless sample 11,520 is decoder sample 12,625, in frame 10 (11,520-12,671); a 418-byte frame holds at
    // least 380 bytes of main data, so 511 bytes of reservoir reach back two frames from frame 9.
    expect(decodeSpan(index({ frames: 100 }), 11_520, 2_304)).toEqual({
      firstFrame: 7,
      endFrame: 13,
      ranges: [
        [0, 1_000],
        [1_418 + 7 * 418, 1_418 + 13 * 418],
      ],
      startSample: 12_625 - 7 * 1152,
      endSample: 12_625 - 7 * 1152 + 2_304,
    });
  });

  it('ends with the frame that holds the last asked sample', () => {
    // Decoder samples 12,625-13,823 end exactly at frame 11's last sample (13,823 = 12 × 1152 − 1).
    expect(decodeSpan(index({ frames: 100 }), 11_520, 1_199)?.endFrame).toBe(12);
    expect(decodeSpan(index({ frames: 100 }), 11_520, 1_200)?.endFrame).toBe(13);
  });

  it('primes with as many frames as 511 bytes of main data take when frames are small', () => {
    // 72-byte frames (8 kbps at 8 kHz) carry at least 34 bytes of main data: 16 of them hold 511.
    const small = index({ frames: 200, bytes: 72, sampleRate: 8_000, samplesPerFrame: 576, skipSamples: 529 });
    const span = decodeSpan(small, 100 * 576 - 529, 576);
    expect(span?.firstFrame).toBe(100 - 1 - 16);
    expect(span?.startSample).toBe((1 + 16) * 576);
  });

  it('starts at the first audio frame (never the Info frame) when the start is in the first frames', () => {
    expect(decodeSpan(index({ frames: 100 }), 0, 100)).toMatchObject({ firstFrame: 0, startSample: 1_105, endSample: 1_205 });
    // Sample 100 is decoder sample 1,205, in frame 1: frame 0 before it, and nothing before frame 0.
    expect(decodeSpan(index({ frames: 100 }), 100, 100)).toMatchObject({ firstFrame: 0, startSample: 1_205 });
    expect(decodeSpan(index({ frames: 100, headTagBytes: 0 }), 0, 10)?.ranges).toEqual([[1_418, 1_418 + 418]]);
  });

  it("stops at the source's gapless end: the LAME tag's padding is not asked samples", () => {
    // 100 frames less 1,105 samples of delay and 1,000 of padding: 113,095 samples.
    const span = decodeSpan(index({ frames: 100 }), 113_095 - 10, 1_000);
    expect(span!.endSample - span!.startSample).toBe(10);
    expect(span!.endFrame).toBe(100);
  });

  it('has no span for a start at or past the end', () => {
    expect(decodeSpan(index({ frames: 100 }), 113_095, 10)).toBeNull();
  });

  it('with tags after the frames: the frames alone, and a tags file of the source less its frames from the third on', () => {
    // Frames at 1,418 + 418 k; the frames end at 43,218, 128 bytes of ID3v1 follow.
    const clean = index({ frames: 100 });
    expect(clean.offsets[100]).toBe(43_218);
    expect(decodeSpan(clean, 11_520, 2_304)?.tags).toBeUndefined();
    const tagged = { ...clean, fileBytes: 43_218 + 128 };
    expect(decodeSpan(tagged, 11_520, 2_304)).toEqual({
      ...decodeSpan(clean, 11_520, 2_304),
      ranges: [[1_418 + 7 * 418, 1_418 + 13 * 418]],
      tags: [
        [0, 1_418 + 2 * 418],
        [43_218, 43_346],
      ],
    });
    // Two frames or fewer: the tags file is the whole source.
    const short = index({ frames: 2 });
    expect(decodeSpan({ ...short, fileBytes: short.fileBytes + 128 }, 0, 10)?.tags).toEqual([[0, short.fileBytes + 128]]);
  });
});
