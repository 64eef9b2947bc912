// Owns BBC audiowaveform's data format, version 2 (github.com/bbc/audiowaveform, doc/DataFormat.md), as
// peaks.js and waveform-data read it: the Peaks value (min/max pairs per pixel, channels interleaved, kept
// in 16 bits), its 8-bit form (value / 256 truncated toward zero, as audiowaveform's C++ `short / 256`
// does: src/WaveformBuffer.cpp), the binary .dat bytes and the JSON text. One encoder per format: both
// carry the same numbers.
import { endianness } from 'node:os';
import type { PeakBits } from './peaks-url.js';

/** Typed arrays use the machine's byte order; on a little-endian one (x86, ARM) 16-bit data is copied whole. */
const LITTLE_ENDIAN = endianness() === 'LE';

export interface Peaks {
  sampleRate: number;
  channels: number;
  samplesPerPixel: number;
  /** Pixels: min/max pairs per channel. */
  length: number;
  /** length × channels × 2 values: pixel 0 ch0 min, max, ch1 min, max, pixel 1 …; 16-bit values. */
  data: Int16Array;
}

/** A 16-bit value as audiowaveform writes it at 8 bits: C++ integer division, toward zero (-255 → 0, -256 → -1). */
export function toEightBits(value: number): number {
  return (value / 256) | 0;
}

/** Version (4), flags (4), sample rate (4), samples per pixel (4), length (4), channels (4): little-endian. */
export const DAT_HEADER_BYTES = 24;

/** The binary .dat, version 2 (also for one channel, where audiowaveform itself would write version 1). */
export function encodeDat(peaks: Peaks, bits: PeakBits): Buffer {
  const values = peaks.data.length;
  const bytes = Buffer.alloc(DAT_HEADER_BYTES + values * (bits / 8));
  bytes.writeInt32LE(2, 0);
  // Flags bit 0: 8-bit resolution.
  bytes.writeUInt32LE(bits === 8 ? 1 : 0, 4);
  bytes.writeInt32LE(peaks.sampleRate, 8);
  bytes.writeInt32LE(peaks.samplesPerPixel, 12);
  bytes.writeUInt32LE(peaks.length, 16);
  bytes.writeInt32LE(peaks.channels, 20);
  if (bits === 8) {
    for (let i = 0; i < values; i += 1) bytes.writeInt8(toEightBits(peaks.data[i]!), DAT_HEADER_BYTES + i);
  } else if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(peaks.data.buffer, peaks.data.byteOffset, peaks.data.byteLength), DAT_HEADER_BYTES);
  } else {
    for (let i = 0; i < values; i += 1) bytes.writeInt16LE(peaks.data[i]!, DAT_HEADER_BYTES + 2 * i);
  }
  return bytes;
}

/** Reads a version 2 .dat at 16 bits (what the peaks record keeps); undefined for anything else. */
export function decodeDat16(bytes: Buffer): Peaks | undefined {
  if (bytes.length < DAT_HEADER_BYTES || bytes.readInt32LE(0) !== 2 || (bytes.readUInt32LE(4) & 1) !== 0) return undefined;
  const length = bytes.readUInt32LE(16);
  const channels = bytes.readInt32LE(20);
  const values = length * channels * 2;
  if (channels < 1 || bytes.length !== DAT_HEADER_BYTES + 2 * values) return undefined;
  const data = new Int16Array(values);
  if (LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(DAT_HEADER_BYTES));
  else for (let i = 0; i < values; i += 1) data[i] = bytes.readInt16LE(DAT_HEADER_BYTES + 2 * i);
  return { sampleRate: bytes.readInt32LE(8), samplesPerPixel: bytes.readInt32LE(12), length, channels, data };
}

/** Values per chunk of JSON text: an hour at 256 samples per pixel is 2.5 million, written a piece at a time. */
const JSON_CHUNK_VALUES = 32_768;

/**
 * The JSON text, in pieces (a stream pulls one when the socket wants more, so a long source's answer never
 * holds the event loop for the whole text). Fields in audiowaveform's order.
 */
export function* jsonChunks(peaks: Peaks, bits: PeakBits): Generator<string> {
  const { channels, sampleRate, samplesPerPixel, length, data } = peaks;
  yield `{"version":2,"channels":${channels},"sample_rate":${sampleRate},"samples_per_pixel":${samplesPerPixel},"bits":${bits},"length":${length},"data":[`;
  for (let from = 0; from < data.length; from += JSON_CHUNK_VALUES) {
    const part = data.subarray(from, from + JSON_CHUNK_VALUES);
    const text = (bits === 8 ? Array.from(part, toEightBits) : Array.from(part)).join(',');
    yield from === 0 ? text : `,${text}`;
  }
  yield ']}\n';
}
