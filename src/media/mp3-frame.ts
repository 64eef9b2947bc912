// Owns the MP3 format facts the service needs without running ffmpeg: a frame's length in time, and the
// gapless length a file's Xing/Info + LAME header records (ffprobe reports every frame's samples,
// encoder delay and padding included, so its duration runs up to two frames long).
import { open } from 'node:fs/promises';

/** Length of one MPEG audio layer III frame: 1152 samples in MPEG-1 (32 kHz and up), 576 in MPEG-2/2.5. */
export function mp3FrameSeconds(sampleRate: number): number {
  return (sampleRate >= 32_000 ? 1152 : 576) / sampleRate;
}

/** Bit rates (kbps) each MPEG version can carry, as LAME encodes them: MPEG-1, MPEG-2, MPEG-2.5. */
export function bitrateRange(sampleRate: number): { min: number; max: number } {
  if (sampleRate >= 32_000) return { min: 32, max: 320 };
  if (sampleRate >= 16_000) return { min: 8, max: 160 };
  return { min: 8, max: 64 };
}

export interface GaplessInfo {
  sampleRate: number;
  samplesPerFrame: number;
  /** Audio frames, as the Xing/Info header counts them. */
  frames: number;
  /** Encoder delay and padding in samples, from the LAME tag. */
  delay: number;
  padding: number;
  /** frames × samples per frame − delay − padding, in seconds: what gapless players play. */
  durationSeconds: number;
}

const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** Parses the first frame at `at` in `bytes`; null unless it is a Xing/Info frame with a frame count and a LAME tag. */
export function parseGaplessInfo(bytes: Buffer, at = 0): GaplessInfo | null {
  if (at + 4 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (bytes[at + 1]! >> 3) & 0x03;
  const layer = (bytes[at + 1]! >> 1) & 0x03;
  const rateIndex = (bytes[at + 2]! >> 2) & 0x03;
  if (version === 1 || layer !== 1 || rateIndex === 3) return null;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  const mono = bytes[at + 3]! >> 6 === 3;
  const crc = (bytes[at + 1]! & 0x01) === 0;
  const sideInfo = version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17;
  let cursor = at + 4 + (crc ? 2 : 0) + sideInfo;
  const tag = bytes.toString('latin1', cursor, cursor + 4);
  if ((tag !== 'Xing' && tag !== 'Info') || cursor + 8 > bytes.length) return null;
  const flags = bytes.readUInt32BE(cursor + 4);
  if (!(flags & 1)) return null;
  const frames = bytes.readUInt32BE(cursor + 8);
  cursor += 8 + 4 + (flags & 2 ? 4 : 0) + (flags & 4 ? 100 : 0) + (flags & 8 ? 4 : 0);
  if (cursor + 24 > bytes.length || !/^(LAME|Lavc|Lavf|L3.99|GOGO)/.test(bytes.toString('latin1', cursor, cursor + 4))) return null;
  const packed = bytes.readUIntBE(cursor + 21, 3);
  const delay = packed >> 12;
  const padding = packed & 0xfff;
  const samplesPerFrame = version === 3 ? 1152 : 576;
  const samples = frames * samplesPerFrame - delay - padding;
  if (frames === 0 || samples <= 0) return null;
  return { sampleRate, samplesPerFrame, frames, delay, padding, durationSeconds: samples / sampleRate };
}

/** Reads the header of a file (after an ID3v2 tag) for its gapless facts; null when it has none. */
export async function readGaplessInfo(file: string): Promise<GaplessInfo | null> {
  const handle = await open(file, 'r');
  try {
    const id3 = Buffer.alloc(10);
    await handle.read(id3, 0, 10, 0);
    const tagLength =
      id3.toString('latin1', 0, 3) === 'ID3'
        ? 10 + (((id3[6]! & 0x7f) << 21) | ((id3[7]! & 0x7f) << 14) | ((id3[8]! & 0x7f) << 7) | (id3[9]! & 0x7f)) + (id3[5]! & 0x10 ? 10 : 0)
        : 0;
    const head = Buffer.alloc(2048);
    const { bytesRead } = await handle.read(head, 0, head.length, tagLength);
    return parseGaplessInfo(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

const CRC16_TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte;
  for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  return crc;
});

function crc16(bytes: Buffer): number {
  let crc = 0;
  for (const byte of bytes) crc = (crc >>> 8) ^ CRC16_TABLE[(crc ^ byte) & 0xff]!;
  return crc & 0xffff;
}

/**
 * Sets the LAME tag's padding so gapless players play exactly `samples` samples. ffmpeg derives the
 * padding from its last packet only, so when LAME's flush adds a frame of pure padding (often with
 * 576-sample MPEG-2 frames) the tag says too little and players play up to a frame too much.
 * Returns the padding written, or null when the file has no Xing/Info + LAME header to correct.
 */
export async function setGaplessPadding(file: string, samples: number): Promise<number | null> {
  const handle = await open(file, 'r+');
  try {
    const id3 = Buffer.alloc(10);
    await handle.read(id3, 0, 10, 0);
    const tagLength =
      id3.toString('latin1', 0, 3) === 'ID3'
        ? 10 + (((id3[6]! & 0x7f) << 21) | ((id3[7]! & 0x7f) << 14) | ((id3[8]! & 0x7f) << 7) | (id3[9]! & 0x7f)) + (id3[5]! & 0x10 ? 10 : 0)
        : 0;
    const head = Buffer.alloc(2048);
    const { bytesRead } = await handle.read(head, 0, head.length, tagLength);
    const frame = head.subarray(0, bytesRead);
    const info = parseGaplessInfo(frame);
    const lameAt = info ? lameTagOffset(frame) : -1;
    if (!info || lameAt < 0) return null;
    const padding = info.frames * info.samplesPerFrame - info.delay - samples;
    if (padding < 0 || padding > 0xfff) return null;
    if (padding === info.padding) return padding;
    const crcAt = lameAt + 34;
    // Keep the tag's CRC true where it was computed as LAME does (over the frame up to the CRC field).
    const crcWasValid = frame.readUInt16BE(crcAt) === crc16(frame.subarray(0, crcAt));
    frame.writeUIntBE((info.delay << 12) | padding, lameAt + 21, 3);
    if (crcWasValid) frame.writeUInt16BE(crc16(frame.subarray(0, crcAt)), crcAt);
    await handle.write(frame, 0, crcAt + 2, tagLength);
    return padding;
  } finally {
    await handle.close();
  }
}

/** Offset of the LAME extension (its encoder string) in a Xing/Info frame, or -1. */
function lameTagOffset(frame: Buffer): number {
  const version = (frame[1]! >> 3) & 0x03;
  const mono = frame[3]! >> 6 === 3;
  const crc = (frame[1]! & 0x01) === 0;
  const at = 4 + (crc ? 2 : 0) + (version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17);
  const flags = frame.readUInt32BE(at + 4);
  const lame = at + 8 + (flags & 1 ? 4 : 0) + (flags & 2 ? 4 : 0) + (flags & 4 ? 100 : 0) + (flags & 8 ? 4 : 0);
  return lame + 36 <= frame.length ? lame : -1;
}
