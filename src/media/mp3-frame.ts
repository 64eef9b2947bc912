// Owns the MP3 format facts the service needs without running ffmpeg: frame headers, the Xing/Info +
// LAME header (gapless length: ffprobe counts encoder delay and padding, so its duration runs up to two
// frames long), and the two repairs a copy may need (its gapless trim, junk between copied frames).
import { open, readFile, writeFile } from 'node:fs/promises';
import { localReaders, type SourceReader } from './source-reader.js';

/**
 * The decoder's own delay (filter bank and IMDCT overlap), which gapless decoders skip with the LAME tag's
 * delay and take off its padding (ffmpeg's mp3dec.c: start_pad + 528 + 1).
 */
export const DECODER_DELAY = 529;

/** Length of one MPEG audio layer III frame: 1152 samples in MPEG-1 (32 kHz and up), 576 in MPEG-2/2.5. */
export function mp3FrameSeconds(sampleRate: number): number {
  return samplesPerFrameAt(sampleRate) / sampleRate;
}

/** Samples in one layer III frame at this sample rate: 1152 in MPEG-1 (32 kHz and up), 576 in MPEG-2/2.5. */
export function samplesPerFrameAt(sampleRate: number): number {
  return sampleRate >= 32_000 ? 1152 : 576;
}

/** Bit rates (kbps) each MPEG version can carry, as LAME encodes them: MPEG-1, MPEG-2, MPEG-2.5. */
export function bitrateRange(sampleRate: number): { min: number; max: number } {
  if (sampleRate >= 32_000) return { min: 32, max: 320 };
  if (sampleRate >= 16_000) return { min: 8, max: 160 };
  return { min: 8, max: 64 };
}

const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
const BITRATES: Record<'v1' | 'v2', number[]> = {
  v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};

export interface FrameHeader {
  length: number;
  /** Bits per second. */
  bitrate: number;
  sampleRate: number;
  samplesPerFrame: number;
  /** Where a Xing/Info header would start in this frame (after the side information). */
  xingAt: number;
}

export function readFrameHeader(bytes: Buffer, at: number): FrameHeader | null {
  if (at + 4 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (bytes[at + 1]! >> 3) & 0x03;
  const layer = (bytes[at + 1]! >> 1) & 0x03;
  const bitrateIndex = bytes[at + 2]! >> 4;
  const rateIndex = (bytes[at + 2]! >> 2) & 0x03;
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  const samplesPerFrame = version === 3 ? 1152 : 576;
  const bitrate = BITRATES[version === 3 ? 'v1' : 'v2'][bitrateIndex]! * 1000;
  const padding = (bytes[at + 2]! >> 1) & 0x01;
  const mono = bytes[at + 3]! >> 6 === 3;
  const crc = (bytes[at + 1]! & 0x01) === 0;
  const sideInfo = version === 3 ? (mono ? 17 : 32) : mono ? 9 : 17;
  return {
    length: Math.floor(((samplesPerFrame / 8) * bitrate) / sampleRate) + padding,
    bitrate,
    sampleRate,
    samplesPerFrame,
    xingAt: at + 4 + (crc ? 2 : 0) + sideInfo,
  };
}

/**
 * The smallest bit-rate index at which a frame of `header`'s format (without padding) is at least `bytes`
 * long; null when none is.
 */
export function bitrateIndexFor(header: Buffer, bytes: number): number | null {
  const probe = Buffer.from(header.subarray(0, 4));
  for (let index = 1; index < 15; index += 1) {
    probe[2] = (index << 4) | (probe[2]! & 0x0c);
    if (readFrameHeader(probe, 0)!.length >= bytes) return index;
  }
  return null;
}

interface XingLayout {
  frames: number | null;
  /** Offsets of the byte-count field and of the LAME extension (-1 when absent). */
  bytesAt: number;
  lameAt: number;
}

export function readXing(bytes: Buffer, header: FrameHeader): XingLayout | null {
  const at = header.xingAt;
  const tag = bytes.toString('latin1', at, at + 4);
  if ((tag !== 'Xing' && tag !== 'Info') || at + 8 > bytes.length) return null;
  const flags = bytes.readUInt32BE(at + 4);
  const frames = flags & 1 ? bytes.readUInt32BE(at + 8) : null;
  const bytesAt = flags & 2 ? at + 8 + (flags & 1 ? 4 : 0) : -1;
  const lameAt = at + 8 + (flags & 1 ? 4 : 0) + (flags & 2 ? 4 : 0) + (flags & 4 ? 100 : 0) + (flags & 8 ? 4 : 0);
  const hasLame = lameAt + 36 <= bytes.length && /^(LAME|Lavc|Lavf|L3.99|GOGO)/.test(bytes.toString('latin1', lameAt, lameAt + 4));
  return { frames, bytesAt, lameAt: hasLame ? lameAt : -1 };
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

/** The first frame at `at`; null unless it is a Xing/Info frame with a frame count and a LAME tag. */
export function parseGaplessInfo(bytes: Buffer, at = 0): GaplessInfo | null {
  const header = readFrameHeader(bytes, at);
  const xing = header && readXing(bytes, header);
  if (!header || !xing || xing.frames === null || xing.lameAt < 0) return null;
  const packed = bytes.readUIntBE(xing.lameAt + 21, 3);
  const delay = packed >> 12;
  const padding = packed & 0xfff;
  const samples = xing.frames * header.samplesPerFrame - delay - padding;
  if (samples <= 0) return null;
  return {
    sampleRate: header.sampleRate,
    samplesPerFrame: header.samplesPerFrame,
    frames: xing.frames,
    delay,
    padding,
    durationSeconds: samples / header.sampleRate,
  };
}

/** Bytes of the ID3v2 tag that `head` (at least its first 10 bytes) begins with; 0 when it begins with none. */
export function id3v2Length(head: Buffer): number {
  if (head.length < 10 || head.toString('latin1', 0, 3) !== 'ID3') return 0;
  return (
    10 + (((head[6]! & 0x7f) << 21) | ((head[7]! & 0x7f) << 14) | ((head[8]! & 0x7f) << 7) | (head[9]! & 0x7f)) + (head[5]! & 0x10 ? 10 : 0)
  );
}

/** The first frame of a file (after its ID3v2 tag) and where it starts. */
async function readFirstFrame(file: string, mode: 'r' | 'r+') {
  const handle = await open(file, mode);
  const id3 = Buffer.alloc(10);
  await handle.read(id3, 0, 10, 0);
  const at = id3v2Length(id3);
  const head = Buffer.alloc(2048);
  const { bytesRead } = await handle.read(head, 0, head.length, at);
  return { handle, at, frame: head.subarray(0, bytesRead) };
}

/**
 * The length the file's Xing/Info header states for it (its ID3v2 tag plus the header's byte count, which
 * runs from the Info frame to the last audio frame); null when the file has no such header (yet: a file
 * being written may not hold it whole).
 */
export async function statedLength(file: string): Promise<number | null> {
  const { handle, at, frame } = await readFirstFrame(file, 'r');
  await handle.close();
  const header = readFrameHeader(frame, 0);
  const xing = header && readXing(frame, header);
  return xing && xing.bytesAt >= 0 && xing.bytesAt + 4 <= frame.length ? at + frame.readUInt32BE(xing.bytesAt) : null;
}

/**
 * Reads the header of a file for its gapless facts; null when it has none. A file shorter than its Xing
 * header says (truncated) gets the frame count its bytes can hold, and no padding.
 */
export async function readGaplessInfo(file: string): Promise<GaplessInfo | null> {
  const { handle, at, frame } = await readFirstFrame(file, 'r');
  try {
    const info = parseGaplessInfo(frame);
    const header = readFrameHeader(frame, 0);
    const xing = header && readXing(frame, header);
    if (!info || !xing || xing.bytesAt < 0) return info;
    const stated = frame.readUInt32BE(xing.bytesAt);
    const actual = (await handle.stat()).size - at;
    if (actual >= stated) return info;
    const frames = Math.floor((info.frames * actual) / stated);
    const samples = frames * info.samplesPerFrame - info.delay;
    return samples > 0 ? { ...info, frames, padding: 0, durationSeconds: samples / info.sampleRate } : null;
  } finally {
    await handle.close();
  }
}

/** What the frame chain of a whole file holds: audio frames (a Xing/Info frame is not audio) and their rate. */
export interface FrameChain {
  audioFrames: number;
  sampleRate: number;
  samplesPerFrame: number;
  /** audioFrames × samples per frame: the length when every frame is played (no gapless trim). */
  durationSeconds: number;
  /** The file's size, as walked. */
  bytes: number;
}

/** The longest MPEG audio layer III frame (MPEG-1, 320 kbps, 32 kHz, padded). */
const MAX_FRAME_BYTES = 1441;
const CHAIN_CHUNK_BYTES = 1 << 20;

/** One frame met by walkFrames: its header, where it starts, and the chunk holding it whole (its Xing header too). */
export interface WalkedFrame {
  header: FrameHeader;
  offset: number;
  chunk: Buffer;
  at: number;
  /** The file's first frame (a Xing/Info frame, when it is one). */
  first: boolean;
}

/** Where a walk of a file's frames ended. */
export interface FrameWalk {
  size: number;
  /** Bytes of the ID3v2 tag before the frames. */
  headTagBytes: number;
  /** Just past the last frame; past `size` when the last header promised more bytes than the file has. */
  end: number;
}

/**
 * Walks a file's frames from after its ID3v2 tag while frames of one sample rate follow each other,
 * reading it in chunks (sources and renders can be large). `visit` sees each frame and may stop the walk
 * by returning false: the walk is then null.
 */
export async function walkFrames(file: string, visit: (frame: WalkedFrame, size: number) => boolean): Promise<FrameWalk | null> {
  const reader = await localReaders.open({ file, size: 0 });
  try {
    return await walkSource(reader, visit);
  } finally {
    await reader.close();
  }
}

/** walkFrames over an open source, wherever it lives (source-reader.ts): read once, in order, a chunk at a time. */
export async function walkSource(reader: SourceReader, visit: (frame: WalkedFrame, size: number) => boolean): Promise<FrameWalk | null> {
  const { size } = reader;
  // Sized to the file when it is small (most renders): a 1 MiB buffer per check showed in the worker's profile.
  const chunk = Buffer.alloc(Math.max(10, Math.min(CHAIN_CHUNK_BYTES, size)));
  await reader.read(chunk.subarray(0, 10), 0);
  const headTagBytes = Math.min(size, id3v2Length(chunk));
  let offset = headTagBytes;
  let sampleRate: number | null = null;
  while (offset + 4 <= size) {
    const bytesRead = await reader.read(chunk.subarray(0, Math.min(chunk.length, size - offset)), offset);
    const bytes = chunk.subarray(0, bytesRead);
    let at = 0;
    // Stop a frame short of the chunk's end so a header (and a Xing tag) is never cut by it.
    while (at + MAX_FRAME_BYTES <= bytes.length || (offset + bytes.length === size && at + 4 <= bytes.length)) {
      const header = readFrameHeader(bytes, at);
      if (!header || (sampleRate !== null && header.sampleRate !== sampleRate)) break;
      if (visit({ header, offset: offset + at, chunk: bytes, at, first: sampleRate === null }, size) === false) return null;
      sampleRate = header.sampleRate;
      at += header.length;
    }
    if (at === 0) break;
    offset += at;
  }
  return { size, headTagBytes, end: offset };
}

/**
 * Null unless frames of one sample rate follow each other to the end of the file, short of at most one
 * partial frame: what the worker checks a render with, in-process, instead of starting ffprobe for every
 * render.
 */
export async function readFrameChain(file: string): Promise<FrameChain | null> {
  let frames = 0;
  let first: FrameHeader | null = null;
  const walk = await walkFrames(file, ({ header, chunk, first: isFirst }) => {
    if (isFirst) {
      first = header;
      if (readXing(chunk, header)) frames -= 1;
    }
    frames += 1;
    return true;
  });
  const format = first as FrameHeader | null;
  // What is left must be less than one frame (a render cut mid-frame), and there must be audio at all.
  if (!walk || !format || frames < 1 || walk.size - walk.end >= MAX_FRAME_BYTES) return null;
  if (walk.end > walk.size) frames -= 1; // the last header promised more bytes than the file has
  return {
    audioFrames: frames,
    sampleRate: format.sampleRate,
    samplesPerFrame: format.samplesPerFrame,
    durationSeconds: (frames * format.samplesPerFrame) / format.sampleRate,
    bytes: walk.size,
  };
}

// Eight typed tables, read 8 bytes a step ("slicing by 8"): table k holds the CRC of a byte followed by k
// zero bytes, so the 8 bytes' parts are looked up independently. A 30 s segment's 480 KB took 1.4 ms with
// one table a byte at a time (half of a plain array's 2.8 ms) and was half of a copy render's CPU in a
// worker's profile under distinct misses (issue 15).
const CRC16_TABLES = (() => {
  const tables = new Uint16Array(8 * 256);
  for (let byte = 0; byte < 256; byte += 1) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
    tables[byte] = crc;
  }
  for (let k = 1; k < 8; k += 1)
    for (let byte = 0; byte < 256; byte += 1) {
      const previous = tables[(k - 1) * 256 + byte]!;
      tables[k * 256 + byte] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  return tables;
})();

/**
 * The CRC-16 a LAME tag's CRC fields hold (polynomial 0x8005, reflected, as LAME computes it); `crc` goes
 * on from the CRC of the bytes before these.
 */
export function crc16(bytes: Buffer, crc = 0): number {
  const t = CRC16_TABLES;
  let value = crc & 0xffff;
  let i = 0;
  // The register's two bytes meet the first two data bytes; the other six only meet zeros.
  for (const whole = bytes.length - (bytes.length % 8); i < whole; i += 8) {
    value ^= bytes[i]! | (bytes[i + 1]! << 8);
    value =
      t[7 * 256 + (value & 0xff)]! ^
      t[6 * 256 + (value >>> 8)]! ^
      t[5 * 256 + bytes[i + 2]!]! ^
      t[4 * 256 + bytes[i + 3]!]! ^
      t[3 * 256 + bytes[i + 4]!]! ^
      t[2 * 256 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i += 1) value = (value >>> 8) ^ t[(value ^ bytes[i]!) & 0xff]!;
  return value & 0xffff;
}

/** Rewrites fields of the Xing/LAME frame in place, keeping the LAME tag's CRC true where it was. */
function patchInfoFrame(frame: Buffer, lameAt: number, patch: () => void): void {
  const crcAt = lameAt + 34;
  const crcWasValid = lameAt >= 0 && frame.readUInt16BE(crcAt) === crc16(frame.subarray(0, crcAt));
  patch();
  if (crcWasValid) frame.writeUInt16BE(crc16(frame.subarray(0, crcAt)), crcAt);
}

/** Rewrites the LAME tag's encoder delay and padding; null when the file has no Xing/Info + LAME header. */
async function rewriteLameDelays(
  file: string,
  choose: (current: {
    frames: number | null;
    samplesPerFrame: number;
    delay: number;
    padding: number;
  }) => { delay: number; padding: number } | null,
): Promise<{ delay: number; padding: number } | null> {
  const { handle, at, frame } = await readFirstFrame(file, 'r+');
  try {
    const header = readFrameHeader(frame, 0);
    const xing = header && readXing(frame, header);
    if (!header || !xing || xing.lameAt < 0) return null;
    const packed = frame.readUIntBE(xing.lameAt + 21, 3);
    const current = { frames: xing.frames, samplesPerFrame: header.samplesPerFrame, delay: packed >> 12, padding: packed & 0xfff };
    const chosen = choose(current);
    if (!chosen || chosen.delay < 0 || chosen.padding < 0 || chosen.delay > 0xfff || chosen.padding > 0xfff) return null;
    if (chosen.delay !== current.delay || chosen.padding !== current.padding) {
      patchInfoFrame(frame, xing.lameAt, () => frame.writeUIntBE((chosen.delay << 12) | chosen.padding, xing.lameAt + 21, 3));
      await handle.write(frame, 0, xing.lameAt + 36, at);
    }
    return chosen;
  } finally {
    await handle.close();
  }
}

/**
 * A stream copy is the source's frames as they are: players should play all of them. ffmpeg writes the
 * source's end trimming (and a bogus 3567-sample delay) into the copy's LAME tag when the copy reaches the
 * source's end, which made gapless players skip up to 80 ms and report a short duration.
 */
export async function clearGaplessTrim(file: string): Promise<boolean> {
  return (await rewriteLameDelays(file, () => ({ delay: 0, padding: 0 }))) !== null;
}

/**
 * Removes bytes between frames that belong to no frame (a source with junk between its frames passes
 * them on in a stream copy), and corrects the Xing byte count. Returns the number of bytes removed.
 */
export async function removeJunkBetweenFrames(file: string): Promise<number> {
  const bytes = await readFile(file);
  const start = id3v2Length(bytes);
  const kept: Buffer[] = [bytes.subarray(0, start)];
  let offset = start;
  let removed = 0;
  let inStep = true;
  while (offset < bytes.length) {
    const header = readFrameHeader(bytes, offset);
    const end = header ? offset + header.length : Infinity;
    // After junk, a header counts only when another follows it (or it ends the file): junk can look like one.
    if (header && end <= bytes.length && (inStep || end === bytes.length || readFrameHeader(bytes, end))) {
      inStep = true;
      kept.push(bytes.subarray(offset, offset + header.length));
      offset += header.length;
    } else {
      inStep = false;
      offset += 1;
      removed += 1;
    }
  }
  if (removed === 0) return 0;
  const clean = Buffer.concat(kept);
  const first = readFrameHeader(clean, start);
  const xing = first && readXing(clean, first);
  if (xing) {
    // The header must count what is left: a partial last frame is gone too.
    const frame = clean.subarray(start);
    const lameAt = xing.lameAt < 0 ? -1 : xing.lameAt - start;
    patchInfoFrame(frame, lameAt, () => {
      if (xing.frames !== null) frame.writeUInt32BE(kept.length - 2, first.xingAt - start + 8);
      if (xing.bytesAt >= 0) frame.writeUInt32BE(clean.length - start, xing.bytesAt - start);
    });
  }
  await writeFile(file, clean);
  return removed;
}
