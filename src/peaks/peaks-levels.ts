// Owns deriving a coarser resolution from the finest peaks: each coarse pixel is the min of its fine
// pixels' mins and the max of their maxes. Exact (the same numbers a decode binned at the coarse size
// gives) because every served size is a whole multiple of the finest, so coarse bins are unions of whole
// fine bins; the last, partial one included. Exact at 8 bits too: value / 256 toward zero never
// decreases as the value grows, so it commutes with min and max.
import type { Peaks } from './waveform-data.js';

export function coarsen(peaks: Peaks, samplesPerPixel: number): Peaks {
  const factor = samplesPerPixel / peaks.samplesPerPixel;
  if (!Number.isInteger(factor) || factor < 1) {
    throw new Error(`${samplesPerPixel} is not a whole multiple of ${peaks.samplesPerPixel} samples per pixel`);
  }
  if (factor === 1) return peaks;
  const { channels, data } = peaks;
  const stride = channels * 2;
  const length = Math.ceil(peaks.length / factor);
  const out = new Int16Array(length * stride);
  for (let pixel = 0; pixel < length; pixel += 1) {
    const first = pixel * factor;
    const last = Math.min(peaks.length, first + factor);
    for (let c = 0; c < channels; c += 1) {
      let min = 32767;
      let max = -32768;
      for (let fine = first; fine < last; fine += 1) {
        const at = fine * stride + 2 * c;
        if (data[at]! < min) min = data[at]!;
        if (data[at + 1]! > max) max = data[at + 1]!;
      }
      out[pixel * stride + 2 * c] = min;
      out[pixel * stride + 2 * c + 1] = max;
    }
  }
  return { ...peaks, samplesPerPixel, length, data: out };
}
