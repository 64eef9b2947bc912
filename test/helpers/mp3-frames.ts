// An independent MP3 reader for the tests: walks MPEG audio layer III frame headers itself (no ffmpeg,
// nothing from src/), reads the Xing/Info, LAME and VBRI headers, and knows the tags that may surround
// the audio (ID3v2 in front; ID3v1 and APEv2 at the end). The checks built on it do not trust the code
// under test.

const BITRATES_KBPS = {
  v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
/** By the header's version bits: 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5. */
const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
/** The decoder's own delay, which gapless-aware players skip along with the encoder delay. */
export const DECODER_DELAY = 529;

export interface Mp3Frame {
  offset: number;
  length: number;
  version: '1' | '2' | '2.5';
  sampleRate: number;
  bitrateKbps: number;
  channels: 1 | 2;
  /** 'stereo' | 'joint' | 'dual' | 'mono' */
  channelMode: string;
  samples: number;
  crc: boolean;
}

export interface LameTag {
  encoder: string;
  /** Encoder delay in samples (before the decoder's own 529). */
  delay: number;
  padding: number;
}

export interface InfoHeader {
  kind: 'Xing' | 'Info' | 'VBRI';
  frames: number | null;
  bytes: number | null;
  lame: LameTag | null;
}

export interface Mp3Summary {
  /** Audio frames only (a leading Xing/Info/VBRI frame is not audio). */
  audioFrames: Mp3Frame[];
  infoFrame: Mp3Frame | null;
  info: InfoHeader | null;
  /** Bytes that belong to no frame and no tag (junk between or before frames). */
  junkBytes: number;
  id3v2Bytes: number;
  trailingTags: ('id3v1' | 'ape')[];
  sampleRate: number;
  channels: number;
  samplesPerFrame: number;
  /** Samples gapless players skip at the start: LAME delay + 529 when there is a LAME tag, else 0. */
  startSkip: number;
  /** Gapless length in seconds: all audio samples less delay and padding when the LAME tag gives them. */
  durationSeconds: number;
  /** Every frame's samples, nothing skipped. */
  rawDurationSeconds: number;
  bytes: Buffer;
}

function readHeader(bytes: Buffer, offset: number): Mp3Frame | null {
  if (offset + 4 > bytes.length || bytes[offset] !== 0xff || (bytes[offset + 1]! & 0xe0) !== 0xe0) return null;
  const versionBits = (bytes[offset + 1]! >> 3) & 0x03;
  const layer = (bytes[offset + 1]! >> 1) & 0x03;
  const crc = (bytes[offset + 1]! & 0x01) === 0;
  const bitrateIndex = bytes[offset + 2]! >> 4;
  const rateIndex = (bytes[offset + 2]! >> 2) & 0x03;
  const padding = (bytes[offset + 2]! >> 1) & 0x01;
  const mode = bytes[offset + 3]! >> 6;
  if (versionBits === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const sampleRate = SAMPLE_RATES[versionBits]![rateIndex]!;
  const bitrateKbps = (versionBits === 3 ? BITRATES_KBPS.v1 : BITRATES_KBPS.v2)[bitrateIndex]!;
  const samples = versionBits === 3 ? 1152 : 576;
  const length = Math.floor(((samples / 8) * bitrateKbps * 1000) / sampleRate) + padding;
  return {
    offset,
    length,
    version: versionBits === 3 ? '1' : versionBits === 2 ? '2' : '2.5',
    sampleRate,
    bitrateKbps,
    channels: mode === 3 ? 1 : 2,
    channelMode: ['stereo', 'joint', 'dual', 'mono'][mode]!,
    samples,
    crc,
  };
}

export function id3v2Length(bytes: Buffer): number {
  if (bytes.length < 10 || bytes.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size = ((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f);
  return 10 + size + (bytes[5]! & 0x10 ? 10 : 0);
}

/** Where the audio ends: before an ID3v1 tag and/or an APEv2 tag (in either order). */
function trailingTags(bytes: Buffer): { end: number; tags: ('id3v1' | 'ape')[] } {
  let end = bytes.length;
  const tags: ('id3v1' | 'ape')[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    if (end >= 128 && bytes.toString('latin1', end - 128, end - 125) === 'TAG') {
      end -= 128;
      tags.push('id3v1');
      changed = true;
    }
    if (end >= 32 && bytes.toString('latin1', end - 32, end - 24) === 'APETAGEX') {
      const size = bytes.readUInt32LE(end - 20); // items + footer
      const hasHeader = (bytes.readUInt32LE(end - 12) & 0x80000000) !== 0;
      end -= size + (hasHeader ? 32 : 0);
      tags.push('ape');
      changed = true;
    }
  }
  return { end, tags };
}

/** Xing/Info sit after the side information; VBRI 32 bytes after the header. */
function readInfoHeader(bytes: Buffer, frame: Mp3Frame): InfoHeader | null {
  const sideInfo = frame.version === '1' ? (frame.channels === 1 ? 17 : 32) : frame.channels === 1 ? 9 : 17;
  const at = frame.offset + 4 + (frame.crc ? 2 : 0) + sideInfo;
  const tag = bytes.toString('latin1', at, at + 4);
  if (tag === 'Xing' || tag === 'Info') {
    const flags = bytes.readUInt32BE(at + 4);
    let cursor = at + 8;
    const frames = flags & 1 ? bytes.readUInt32BE(cursor) : null;
    if (flags & 1) cursor += 4;
    const size = flags & 2 ? bytes.readUInt32BE(cursor) : null;
    if (flags & 2) cursor += 4;
    if (flags & 4) cursor += 100;
    if (flags & 8) cursor += 4;
    let lame: LameTag | null = null;
    const encoder = bytes.toString('latin1', cursor, cursor + 9);
    if (/^(LAME|Lavc|Lavf|GOGO|L3.99)/.test(encoder) && cursor + 24 <= frame.offset + frame.length) {
      const packed = bytes.readUIntBE(cursor + 21, 3);
      lame = { encoder: encoder.replace(/\0+$/, ''), delay: packed >> 12, padding: packed & 0xfff };
    }
    return { kind: tag, frames, bytes: size, lame };
  }
  const vbriAt = frame.offset + 4 + 32;
  if (bytes.toString('latin1', vbriAt, vbriAt + 4) === 'VBRI') {
    return { kind: 'VBRI', frames: bytes.readUInt32BE(vbriAt + 14), bytes: bytes.readUInt32BE(vbriAt + 10), lame: null };
  }
  return null;
}

/** A header here, and another where it says the next frame starts (or the audio ends): a real frame. */
function confirmedFrame(bytes: Buffer, offset: number, end: number): Mp3Frame | null {
  const frame = readHeader(bytes, offset);
  if (!frame || offset + frame.length > end) return null;
  const next = offset + frame.length;
  if (next === end) return frame;
  const following = readHeader(bytes, next);
  return following && following.sampleRate === frame.sampleRate && following.version === frame.version ? frame : null;
}

/**
 * Reads an MP3 file. `strict` (for the service's outputs): nothing but tags and whole frames, back to
 * back. Otherwise (for sources) junk is skipped by searching for the next confirmed frame.
 */
export function readMp3(bytes: Buffer, options: { strict?: boolean } = { strict: true }): Mp3Summary {
  const strict = options.strict ?? true;
  const id3v2Bytes = id3v2Length(bytes);
  const { end, tags } = trailingTags(bytes);
  const frames: Mp3Frame[] = [];
  let junkBytes = 0;
  let offset = id3v2Bytes;
  while (offset < end) {
    // In step with the previous frame, a header is enough; after junk, the next frame must confirm it.
    const inStep = frames.length > 0 && frames[frames.length - 1]!.offset + frames[frames.length - 1]!.length === offset;
    const frame = strict || inStep ? readHeader(bytes, offset) : confirmedFrame(bytes, offset, end);
    if (frame && offset + frame.length <= end) {
      frames.push(frame);
      offset += frame.length;
      continue;
    }
    if (strict)
      throw new Error(frame ? `the frame at byte ${offset} is truncated` : `no MP3 frame header at byte ${offset} of ${bytes.length}`);
    junkBytes += 1;
    offset += 1;
  }
  const first = frames[0];
  if (!first) throw new Error('no MP3 frames');
  const info = readInfoHeader(bytes, first);
  const audioFrames = info ? frames.slice(1) : frames;
  const samplesPerFrame = first.samples;
  const raw = audioFrames.length * samplesPerFrame;
  const lame = info?.lame ?? null;
  const startSkip = lame ? lame.delay + DECODER_DELAY : 0;
  // A file cut short (fewer frames than its header counts) has lost its padding with its tail.
  const complete = info?.frames == null || info.frames === audioFrames.length;
  const gapless = lame ? raw - lame.delay - (complete ? lame.padding : 0) : raw;
  return {
    audioFrames,
    infoFrame: info ? first : null,
    info,
    junkBytes,
    id3v2Bytes,
    trailingTags: tags,
    sampleRate: first.sampleRate,
    channels: first.channels,
    samplesPerFrame,
    startSkip,
    durationSeconds: gapless / first.sampleRate,
    rawDurationSeconds: raw / first.sampleRate,
    bytes,
  };
}

export function frameBytes(file: Mp3Summary, frame: Mp3Frame): Buffer {
  return file.bytes.subarray(frame.offset, frame.offset + frame.length);
}

/** Text frames (TIT2, TPE1, ...) of an ID3v2.3/2.4 tag at the front, decoded; empty without a tag. */
export function id3TextFrames(bytes: Buffer): Record<string, string> {
  const end = id3v2Length(bytes);
  const version = bytes[3];
  const frames: Record<string, string> = {};
  let at = 10 + (bytes[5]! & 0x40 ? (version === 4 ? syncsafe(bytes, 10) : bytes.readUInt32BE(10) + 4) : 0);
  while (at + 10 <= end && /^[A-Z0-9]{4}$/.test(bytes.toString('latin1', at, at + 4))) {
    const id = bytes.toString('latin1', at, at + 4);
    const size = version === 4 ? syncsafe(bytes, at + 4) : bytes.readUInt32BE(at + 4);
    const body = bytes.subarray(at + 10, at + 10 + size);
    if (id.startsWith('T') && id !== 'TXXX' && body.length > 0) frames[id] = decodeText(body[0]!, body.subarray(1));
    at += 10 + size;
  }
  return frames;
}

function syncsafe(bytes: Buffer, at: number): number {
  return ((bytes[at]! & 0x7f) << 21) | ((bytes[at + 1]! & 0x7f) << 14) | ((bytes[at + 2]! & 0x7f) << 7) | (bytes[at + 3]! & 0x7f);
}

function decodeText(encoding: number, text: Buffer): string {
  const decoded =
    encoding === 0
      ? text.toString('latin1')
      : encoding === 3
        ? text.toString('utf8')
        : new TextDecoder(encoding === 2 ? 'utf-16be' : 'utf-16').decode(text);
  return decoded.replace(/\0+$/, '');
}
