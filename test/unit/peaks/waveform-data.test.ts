import { describe, expect, it } from 'vitest';
import { PeakBins } from '../../../src/peaks/peak-bins.js';
import { coarsen } from '../../../src/peaks/peaks-levels.js';
import { decodePeaksRecord, encodePeaksRecord } from '../../../src/peaks/peaks-records.js';
import { encodeDat, jsonChunks, type Peaks, toEightBits } from '../../../src/peaks/waveform-data.js';

/** Min/max per bin, the plain way: the reference the incremental binner must equal. */
function plainBins(samples: Int16Array, channels: number, samplesPerPixel: number): number[] {
  const frames = samples.length / channels;
  const out: number[] = [];
  for (let first = 0; first < frames; first += samplesPerPixel) {
    for (let c = 0; c < channels; c += 1) {
      let min = 32767;
      let max = -32768;
      for (let f = first; f < Math.min(frames, first + samplesPerPixel); f += 1) {
        min = Math.min(min, samples[f * channels + c]!);
        max = Math.max(max, samples[f * channels + c]!);
      }
      out.push(min, max);
    }
  }
  return out;
}

function noise(count: number, seed = 7): Int16Array {
  const out = new Int16Array(count);
  let state = seed;
  for (let i = 0; i < count; i += 1) {
    state = (state * 48_271) % 2_147_483_647;
    out[i] = (state % 65_536) - 32_768;
  }
  return out;
}

describe('peaks from PCM', () => {
  it.each([1, 2])('bins %i channel(s) fed in chunks of odd sizes exactly as in one piece, with a partial last pixel', (channels) => {
    const samples = noise(channels * (256 * 40 + 77));
    const bytes = Buffer.from(samples.buffer);
    const bins = new PeakBins(44_100, channels, 256);
    // Chunks of 1, 3, 1001 ... bytes: frames and samples split across chunks, odd offsets.
    for (let at = 0, size = 1; at < bytes.length; at += size, size = (size * 7 + 3) % 1009) bins.push(bytes.subarray(at, at + size));
    const peaks = bins.finish();
    expect(peaks.length).toBe(41);
    expect(Array.from(peaks.data)).toEqual(plainBins(samples, channels, 256));
  });

  it('derives each coarser resolution exactly, at 16 and at 8 bits', () => {
    const samples = noise(2 * (32_768 * 3 + 1000), 11);
    const finest = new PeakBins(48_000, 2, 256);
    finest.push(Buffer.from(samples.buffer));
    const peaks = finest.finish();
    for (const size of [512, 4096, 32_768]) {
      const coarse = coarsen(peaks, size);
      const direct = plainBins(samples, 2, size);
      expect(Array.from(coarse.data)).toEqual(direct);
      expect(Array.from(coarse.data, toEightBits)).toEqual(direct.map(toEightBits));
    }
  });
});

describe('the audiowaveform format', () => {
  const peaks: Peaks = {
    sampleRate: 44_100,
    channels: 2,
    samplesPerPixel: 512,
    length: 1,
    data: Int16Array.from([-32768, 32767, -255, 256]),
  };

  it('writes 8 bits as audiowaveform does: value / 256 toward zero', () => {
    expect([-32768, -257, -256, -255, -1, 0, 255, 256, 32767].map(toEightBits)).toEqual([-128, -1, -1, 0, 0, 0, 0, 1, 127]);
  });

  it('writes JSON version 2 with its fields in order', () => {
    expect(JSON.parse([...jsonChunks(peaks, 8)].join(''))).toEqual({
      version: 2,
      channels: 2,
      sample_rate: 44_100,
      samples_per_pixel: 512,
      bits: 8,
      length: 1,
      data: [-128, 127, 0, 1],
    });
  });

  it('writes the binary version 2: a 24-byte little-endian header, then int8 or int16 values', () => {
    expect(encodeDat(peaks, 8).toString('hex')).toBe(
      `${'02000000'}${'01000000'}${'44ac0000'}${'00020000'}${'01000000'}${'02000000'}807f0001`,
    );
    expect(encodeDat(peaks, 16).subarray(24).toString('hex')).toBe('0080ff7f01ff0001');
  });

  it('keeps a record only for its own key, and reads a damaged one as absent', () => {
    const record = encodePeaksRecord('peaks-a', peaks);
    expect(decodePeaksRecord(record, 'peaks-a')).toEqual(peaks);
    expect(decodePeaksRecord(record, 'peaks-b')).toBeUndefined();
    record.writeUInt8(record.readUInt8(record.length - 6) ^ 1, record.length - 6);
    expect(decodePeaksRecord(record, 'peaks-a')).toBeUndefined();
  });
});
