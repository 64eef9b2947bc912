// Owns computing peaks from decoded audio as it arrives: interleaved signed 16-bit little-endian PCM in
// chunks of any size, min and max per channel over each run of `samplesPerPixel` frames, and a last,
// partial pixel for what remains (as audiowaveform's WaveformGenerator does). Memory is the output only
// (8 bytes per pixel per channel: 5 MB for an hour of stereo at 256), never the decode.
import type { Peaks } from './waveform-data.js';

export class PeakBins {
  private readonly mins: Int32Array;
  private readonly maxs: Int32Array;
  /** Frames in the pixel being filled. */
  private count = 0;
  /** Bytes of a frame split across two chunks. */
  private carry: Buffer = Buffer.alloc(0);
  private out: Int16Array;
  private used = 0;

  constructor(
    readonly sampleRate: number,
    readonly channels: number,
    readonly samplesPerPixel: number,
    /** Expected frames, to size the output once (it grows if the guess is short). */
    expectedFrames = 0,
  ) {
    this.mins = new Int32Array(channels).fill(32767);
    this.maxs = new Int32Array(channels).fill(-32768);
    this.out = new Int16Array(Math.max(1024, Math.ceil(expectedFrames / samplesPerPixel) + 1) * channels * 2);
  }

  push(chunk: Buffer): void {
    let bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const frameBytes = 2 * this.channels;
    const whole = bytes.length - (bytes.length % frameBytes);
    this.carry = Buffer.from(bytes.subarray(whole));
    // An Int16Array view needs an even offset; a pipe's chunks nearly always have one, else copy once.
    if (bytes.byteOffset % 2 !== 0) bytes = Buffer.from(bytes.subarray(0, whole));
    this.add(new Int16Array(bytes.buffer, bytes.byteOffset, whole / 2));
  }

  private add(samples: Int16Array): void {
    const { channels, samplesPerPixel, mins, maxs } = this;
    let at = 0;
    while (at < samples.length) {
      const frames = Math.min(samplesPerPixel - this.count, (samples.length - at) / channels);
      const end = at + frames * channels;
      // One channel at a time, in locals: the loop V8 makes fast.
      for (let c = 0; c < channels; c += 1) {
        let min = mins[c]!;
        let max = maxs[c]!;
        for (let i = at + c; i < end; i += channels) {
          const value = samples[i]!;
          if (value < min) min = value;
          if (value > max) max = value;
        }
        mins[c] = min;
        maxs[c] = max;
      }
      this.count += frames;
      at = end;
      if (this.count === samplesPerPixel) this.emit();
    }
  }

  private emit(): void {
    const stride = this.channels * 2;
    if (this.used + stride > this.out.length) {
      const grown = new Int16Array(this.out.length * 2);
      grown.set(this.out);
      this.out = grown;
    }
    for (let c = 0; c < this.channels; c += 1) {
      this.out[this.used++] = this.mins[c]!;
      this.out[this.used++] = this.maxs[c]!;
    }
    this.mins.fill(32767);
    this.maxs.fill(-32768);
    this.count = 0;
  }

  /** The peaks of everything pushed (a trailing partial frame, never a whole sample, is dropped). */
  finish(): Peaks {
    if (this.count > 0) this.emit();
    const stride = this.channels * 2;
    return {
      sampleRate: this.sampleRate,
      channels: this.channels,
      samplesPerPixel: this.samplesPerPixel,
      length: this.used / stride,
      data: this.out.slice(0, this.used),
    };
  }
}
