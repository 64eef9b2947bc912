// A frame index made up for arithmetic tests: evenly sized frames, the format fields as given.
import type { FrameIndex } from '../../src/media/frame-index.js';

/**
 * `frames` frames of `bytes` bytes each (418: 128 kbps at 44.1 kHz), the first at byte `from`; 44.1 kHz
 * stereo, no delays and no tags unless the change says so.
 */
export function madeUpIndex(change: Partial<FrameIndex> & { frames: number; bytes?: number; from?: number }): FrameIndex {
  const { bytes = 418, from = 1_000, ...fields } = change;
  const offsets = Float64Array.from({ length: change.frames + 1 }, (_, k) => from + bytes * k);
  return {
    sampleRate: 44_100,
    samplesPerFrame: 1152,
    skipSamples: 0,
    channels: 2,
    endTrimSamples: 0,
    offsets,
    headTagBytes: 0,
    fileBytes: offsets[change.frames]!,
    ...fields,
  };
}
