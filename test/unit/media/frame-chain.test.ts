// The worker's in-process check of a render: frames from the ID3v2 tag to the end, counted across the
// reader's chunk boundaries, a Xing/Info frame not counted as audio, anything else than MP3 refused.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFrameChain } from '../../../src/media/mp3-frame.js';

/** MPEG-1 layer III, 128 kbps, 44.1 kHz, stereo, no CRC, no padding: 417 bytes a frame. */
const FRAME_BYTES = 417;
function frame(sampleRateBits = 0x0): Buffer {
  const bytes = Buffer.alloc(FRAME_BYTES);
  bytes.set([0xff, 0xfb, 0x90 | (sampleRateBits << 2), 0x00]);
  return bytes;
}
const frames = (n: number) => Array.from({ length: n }, () => frame());
const infoFrame = () => {
  const bytes = frame();
  bytes.write('Info', 4 + 32, 'latin1'); // after the header and MPEG-1 stereo side information
  return bytes;
};
const id3 = (payload: number) =>
  Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, payload >> 7, payload & 0x7f]), Buffer.alloc(payload)]);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'frame-chain-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function chainOf(...parts: Buffer[]) {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.mp3`);
  await writeFile(file, Buffer.concat(parts));
  return readFrameChain(file);
}

describe('readFrameChain', () => {
  it('counts every frame of a plain file, with its length', async () => {
    const ten = frames(10);
    expect(await chainOf(...ten)).toEqual({
      audioFrames: 10,
      sampleRate: 44100,
      samplesPerFrame: 1152,
      durationSeconds: (10 * 1152) / 44100,
      bytes: Buffer.concat(ten).length,
    });
  });

  it('starts after an ID3v2 tag and does not count a Xing/Info frame as audio', async () => {
    expect((await chainOf(id3(300), infoFrame(), ...frames(5)))?.audioFrames).toBe(5);
  });

  it('counts across its 1 MiB read chunks', async () => {
    expect((await chainOf(...frames(3000)))?.audioFrames).toBe(3000); // 1.25 MB
  });

  it('accepts less than a frame left at the end, without counting it', async () => {
    expect((await chainOf(...frames(4), frame().subarray(0, 200)))?.audioFrames).toBe(4);
  });

  it('refuses junk between frames, a change of sample rate, text, and an empty file', async () => {
    expect(await chainOf(...frames(3), Buffer.alloc(2000), ...frames(3))).toBeNull();
    expect(await chainOf(...frames(3), ...Array.from({ length: 5 }, () => frame(0x1)))).toBeNull();
    expect(await chainOf(Buffer.from('This is a text file wearing an .mp3 name.\n'.repeat(50)))).toBeNull();
    expect(await chainOf(Buffer.alloc(0))).toBeNull();
  });
});
