// An independent MP3 reader for the tests: walks MPEG audio frame headers itself (no ffmpeg), so the
// checks do not trust the code under test. Skips ID3v2 at the front; a Xing/Info frame is not audio.

const BITRATES_KBPS: Record<string, number[]> = {
  // [version group][layer III] index 1..14
  v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

export interface Mp3Frame {
  offset: number;
  length: number;
  sampleRate: number;
  bitrateKbps: number;
  channels: 1 | 2;
  samples: number;
}

export interface Mp3Summary {
  frames: Mp3Frame[];
  /** Frames of audio (a leading Xing/Info frame excluded). */
  audioFrames: Mp3Frame[];
  hasXing: boolean;
  sampleRate: number;
  channels: number;
  /** Audio frames × samples per frame ÷ sample rate (encoder delay and padding included). */
  durationSeconds: number;
}

function id3v2Length(bytes: Buffer): number {
  if (bytes.length < 10 || bytes.toString('latin1', 0, 3) !== 'ID3') return 0;
  const size = ((bytes[6]! & 0x7f) << 21) | ((bytes[7]! & 0x7f) << 14) | ((bytes[8]! & 0x7f) << 7) | (bytes[9]! & 0x7f);
  return 10 + size + (bytes[5]! & 0x10 ? 10 : 0);
}

function readFrame(bytes: Buffer, offset: number): Mp3Frame | null {
  if (offset + 4 > bytes.length || bytes[offset] !== 0xff || (bytes[offset + 1]! & 0xe0) !== 0xe0) return null;
  const version = (bytes[offset + 1]! >> 3) & 0x03; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
  const layer = (bytes[offset + 1]! >> 1) & 0x03; // 1 = layer III
  const bitrateIndex = bytes[offset + 2]! >> 4;
  const rateIndex = (bytes[offset + 2]! >> 2) & 0x03;
  const padding = (bytes[offset + 2]! >> 1) & 0x01;
  const mode = bytes[offset + 3]! >> 6;
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  const bitrateKbps = BITRATES_KBPS[version === 3 ? 'v1' : 'v2']![bitrateIndex]!;
  const samples = version === 3 ? 1152 : 576;
  const length = Math.floor(((samples / 8) * bitrateKbps * 1000) / sampleRate) + padding;
  return { offset, length, sampleRate, bitrateKbps, channels: mode === 3 ? 1 : 2, samples };
}

function isXingFrame(bytes: Buffer, frame: Mp3Frame): boolean {
  const body = bytes.toString('latin1', frame.offset, Math.min(bytes.length, frame.offset + Math.min(frame.length, 64)));
  return body.includes('Xing') || body.includes('Info');
}

/** Throws if the bytes are not a clean run of MP3 frames (after an optional ID3v2 tag, before an optional ID3v1). */
export function readMp3(bytes: Buffer): Mp3Summary {
  const frames: Mp3Frame[] = [];
  let offset = id3v2Length(bytes);
  const end = bytes.length >= 128 && bytes.toString('latin1', bytes.length - 128, bytes.length - 125) === 'TAG' ? bytes.length - 128 : bytes.length;
  while (offset < end) {
    const frame = readFrame(bytes, offset);
    if (!frame) throw new Error(`no MP3 frame header at byte ${offset} of ${bytes.length}`);
    if (offset + frame.length > end) throw new Error(`the frame at byte ${offset} is truncated`);
    frames.push(frame);
    offset += frame.length;
  }
  const first = frames[0];
  if (!first) throw new Error('no MP3 frames');
  const hasXing = isXingFrame(bytes, first);
  const audioFrames = hasXing ? frames.slice(1) : frames;
  const samples = audioFrames.reduce((sum, frame) => sum + frame.samples, 0);
  return { frames, audioFrames, hasXing, sampleRate: first.sampleRate, channels: first.channels, durationSeconds: samples / first.sampleRate };
}
