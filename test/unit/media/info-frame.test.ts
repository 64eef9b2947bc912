// The Info frame an exact render starts with, written before LAME encodes a byte (issue 12), read back by
// the tests' own MP3 reader (test/helpers/mp3-frames.ts, nothing from src/): the frame's format, its
// frame count, delay and padding, its LAME tag CRC; and the inserter that puts it after the ID3v2 tag of
// a stream arriving in chunks of any size.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { buildInfoFrame, createInfoFrameInserter } from '../../../src/media/info-frame.js';
import { readMp3 } from '../../helpers/mp3-frames.js';
import { bitwiseCrc16 } from '../../helpers/bitwise-crc16.js';

/** An audio frame header: MPEG-1 layer III 128 kbps 44.1 kHz joint stereo, padded, with CRC (what the Info frame must not copy). */
const MPEG1_JOINT = Buffer.from([0xff, 0xfa, 0x92, 0x64]);
/** MPEG-2.5 layer III 8 kbps 8 kHz stereo: a 72-byte frame, too small for the tag after stereo side information. */
const MPEG25_STEREO_8K = Buffer.from([0xff, 0xe3, 0x18, 0x04]);
/** MPEG-2 layer III 64 kbps 22.05 kHz mono. */
const MPEG2_MONO = Buffer.from([0xff, 0xf3, 0x80, 0xc0]);

/** Unpadded frame lengths of those formats: 144 or 72 × bit rate / sample rate. */
const FRAME_LENGTH = new Map<Buffer, number>([
  [MPEG1_JOINT, 417],
  [MPEG25_STEREO_8K, 72],
  [MPEG2_MONO, 208],
]);

/** A run of plain audio frames with this header (padding and CRC off), as an encoder would write them. */
function audioFrames(header: Buffer, count: number): Buffer {
  const plain = Buffer.from(header);
  plain[1] = plain[1]! | 0x01;
  plain[2] = plain[2]! & ~0x02;
  const frame = Buffer.concat([plain, Buffer.alloc(FRAME_LENGTH.get(header)! - 4)]);
  return Buffer.concat(Array.from({ length: count }, () => frame));
}
const id3 = (payload: number) =>
  Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, payload >> 7, payload & 0x7f]), Buffer.alloc(payload, 0x41)]);

describe('buildInfoFrame', () => {
  it("is an Info frame of the stream's format and bit rate that counts its frames and carries its delay and padding", () => {
    const frames = audioFrames(MPEG1_JOINT, 12);
    const info = buildInfoFrame(MPEG1_JOINT, { frames: 12, delay: 576, padding: 903, audioBytes: frames.length });
    const read = readMp3(Buffer.concat([info, frames]));
    expect(read.infoFrame).toMatchObject({ sampleRate: 44100, bitrateKbps: 128, channelMode: 'joint', crc: false });
    expect(info.length).toBe(417); // 128 kbps at 44.1 kHz, unpadded
    // Its byte count runs from its own first byte to the last audio frame's last, as the LAME tag's music length.
    expect(read.info).toMatchObject({
      kind: 'Info',
      frames: 12,
      bytes: 13 * 417,
      lame: { encoder: 'Lavf lame', delay: 576, padding: 903 },
    });
    const lameAt = info.indexOf('Lavf lame', 0, 'latin1');
    expect(info.readUInt32BE(lameAt + 28)).toBe(13 * 417);
    expect(read.audioFrames).toHaveLength(12);
    // 12 × 1152 − 576 − 903 samples, as gapless players count them
    expect(read.durationSeconds).toBeCloseTo((12 * 1152 - 576 - 903) / 44100, 9);
  });

  it('keeps the LAME tag CRC true: the CRC-16 of every byte of the frame before it', () => {
    const info = buildInfoFrame(MPEG2_MONO, { frames: 3, delay: 576, padding: 1105, audioBytes: 3 * 208 });
    const lameAt = info.indexOf('Lavf lame', 0, 'latin1');
    expect(lameAt).toBeGreaterThan(0);
    expect(info.readUInt16BE(lameAt + 34)).toBe(bitwiseCrc16(info.subarray(0, lameAt + 34)));
  });

  it('takes a higher bit rate when the stream’s own frame has no room for the tag (8 kbps stereo at 8 kHz)', () => {
    const info = buildInfoFrame(MPEG25_STEREO_8K, { frames: 5, delay: 576, padding: 600, audioBytes: 5 * 72 });
    const read = readMp3(Buffer.concat([info, audioFrames(MPEG25_STEREO_8K, 5)]));
    expect(read.infoFrame!.sampleRate).toBe(8000);
    expect(read.infoFrame!.bitrateKbps).toBeGreaterThan(8);
    expect(read.info).toMatchObject({ frames: 5, lame: { delay: 576, padding: 600 } });
  });

  it('refuses what a LAME tag cannot hold, and what is no frame header', () => {
    const one = { frames: 1, audioBytes: 417 };
    expect(() => buildInfoFrame(MPEG1_JOINT, { ...one, delay: 4096, padding: 0 })).toThrow(/0-4095/);
    expect(() => buildInfoFrame(MPEG1_JOINT, { ...one, delay: 0, padding: -1 })).toThrow(/0-4095/);
    expect(() => buildInfoFrame(Buffer.from('ID3\x03'), { ...one, delay: 0, padding: 0 })).toThrow(/frame header/);
  });
});

describe('createInfoFrameInserter', () => {
  const gapless = { frames: 4, delay: 576, padding: 1000 };
  /** The layout for the first frame's header: its bytes from the bit rate and sample rate the header names. */
  const layoutOf = (header: { length: number }) => ({ ...gapless, audioBytes: 4 * header.length });
  const layoutFor = (header: Buffer) => ({ ...gapless, audioBytes: 4 * FRAME_LENGTH.get(header)! });

  async function through(chunks: Buffer[]): Promise<Buffer> {
    return buffer(Readable.from(chunks).pipe(createInfoFrameInserter(layoutOf)));
  }

  it('puts the Info frame between the ID3v2 tag and the first frame, however the stream is cut into chunks', async () => {
    const tag = id3(300);
    const frames = audioFrames(MPEG1_JOINT, 4);
    const stream = Buffer.concat([tag, frames]);
    const expected = Buffer.concat([tag, buildInfoFrame(MPEG1_JOINT, layoutFor(MPEG1_JOINT)), frames]);
    expect(await through([stream])).toEqual(expected);
    // One byte at a time: the tag's header, its body and the first frame header all arrive in pieces.
    expect(await through([...stream].map((byte) => Buffer.from([byte])))).toEqual(expected);
    expect(await through([stream.subarray(0, 5), stream.subarray(5, 309), stream.subarray(309)])).toEqual(expected);
  });

  it('puts it first when the stream has no ID3v2 tag', async () => {
    const frames = audioFrames(MPEG2_MONO, 4);
    const out = await through([frames]);
    expect(out).toEqual(Buffer.concat([buildInfoFrame(MPEG2_MONO, layoutFor(MPEG2_MONO)), frames]));
    expect(readMp3(out).info).toMatchObject({ kind: 'Info', frames: 4, bytes: out.length });
  });

  it('fails a stream that does not begin with a frame after its tag', async () => {
    await expect(through([id3(20), Buffer.from('not audio at all')])).rejects.toThrow(/frame header/);
  });
});
