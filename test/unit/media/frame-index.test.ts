// The frame index of a source and the frames a cut keeps: the arithmetic of ffmpeg's timeline on made-up
// indexes, and the walk on the corpus's clean and damaged files.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';
import { cutFrames, readFrameIndex, type FrameIndex } from '../../../src/media/frame-index.js';
import { madeUpIndex } from '../../helpers/made-up-index.js';

const corpus = (name: string) => path.join(PROJECT_ROOT, 'fixtures', 'corpus', name);

/** `frames` frames of 418 bytes after a 1,000-byte header. */
const index = (change: Partial<FrameIndex> & { frames: number }) => madeUpIndex(change);

describe('cutFrames', () => {
  it('keeps the frames from the first that starts at or after the start, while they start before the end', () => {
    // A frame is 1152 / 44100 s = 26.12 ms: frame 1 starts at 26.12 ms, frame 4 at 104.49 ms.
    expect(cutFrames(index({ frames: 100 }), 20, 80)).toEqual({ firstFrame: 1, endFrame: 4, ranges: [[1_418, 2_672]], tailTags: false });
  });

  it('shifts the timeline by the samples ffmpeg skips at the start (LAME delay + 529)', () => {
    // With 1105 samples skipped, frame k starts at (1152 k − 1105) / 44100 s: frame 0 at −25.06 ms, frame 1 at 1.07 ms.
    expect(cutFrames(index({ frames: 100, skipSamples: 1105 }), 0, 52)).toMatchObject({ firstFrame: 1, endFrame: 3 });
    expect(cutFrames(index({ frames: 100, skipSamples: 0 }), 0, 52)).toMatchObject({ firstFrame: 0, endFrame: 2 });
  });

  it('puts a start exactly on a frame edge in that frame, in whole numbers (no float noise)', () => {
    // 576-sample frames at 8 kHz are exactly 72 ms.
    const mpeg25 = index({ frames: 100, sampleRate: 8_000, samplesPerFrame: 576 });
    expect(cutFrames(mpeg25, 72, 144)).toMatchObject({ firstFrame: 1, endFrame: 3 });
    expect(cutFrames(mpeg25, 73, 144)).toMatchObject({ firstFrame: 2, endFrame: 4 });
  });

  it('ends at the last frame when the cut runs past it, and finds nothing past the end', () => {
    const short = index({ frames: 10 });
    expect(cutFrames(short, 100, 10_000)).toMatchObject({ firstFrame: 4, endFrame: 10, ranges: [[1_000 + 418 * 4, 1_000 + 418 * 10]] });
    expect(cutFrames(short, 10_000, 1_000)).toBeNull();
  });

  it('reads the ID3v2 tag before the frames too, and says when tags follow them', () => {
    const tagged = index({ frames: 10, headTagBytes: 1_000, fileBytes: 1_000 + 418 * 10 + 128 });
    expect(cutFrames(tagged, 100, 52)).toMatchObject({
      ranges: [
        [0, 1_000],
        [1_000 + 418 * 4, 1_000 + 418 * 6],
      ],
      tailTags: true,
    });
    expect(cutFrames(index({ frames: 10, headTagBytes: 1_000 }), 100, 52)).toMatchObject({ tailTags: false });
  });
});

describe('readFrameIndex', () => {
  it('indexes a clean source: every audio frame, the info frame left out, its LAME delay read', async () => {
    const built = await readFrameIndex(corpus('cbr-44k-128-stereo.mp3'));
    expect(built).toMatchObject({ sampleRate: 44_100, samplesPerFrame: 1152, skipSamples: 576 + 529, frames: 384, headTagBytes: 81 });
    // 128 kbps frames are 417 or 418 bytes.
    const sizes = new Set(Array.from({ length: built!.frames }, (_, k) => built!.offsets[k + 1]! - built!.offsets[k]!));
    expect([...sizes].sort()).toEqual([417, 418]);
  });

  it('indexes a source without an info frame with no skip, and one with tags after its frames', async () => {
    expect(await readFrameIndex(corpus('cbr-32k-64-mono-noxing.mp3'))).toMatchObject({ skipSamples: 0, sampleRate: 32_000 });
    for (const tailed of ['id3v1-tail.mp3', 'ape-tail.mp3', 'ape-id3v1-tail.mp3'])
      expect(await readFrameIndex(corpus(tailed))).not.toBeNull();
  });

  it('leaves damaged sources to ffmpeg: junk between or before frames, a truncated frame, no audio', async () => {
    for (const damaged of [
      'junk-between-frames.mp3',
      'junk-before-first-frame.mp3',
      'truncated-mid-frame.mp3',
      'not-audio.mp3',
      'empty.mp3',
    ]) {
      expect(await readFrameIndex(corpus(path.join('broken', damaged))), damaged).toBeNull();
    }
  });
});
