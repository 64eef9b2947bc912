import { expect, it } from 'vitest';
import { pcmDecodeArguments } from '../../../src/media/ffmpeg.js';

it("decodes the first audio stream to 16-bit little-endian PCM in the source's own channels, written in whole I/O buffers", () => {
  expect(pcmDecodeArguments('/media/My Show/ep 1.mp3', 2)).toEqual({
    inputs: [{ url: '/media/My Show/ep 1.mp3', options: ['-nostdin', '-hide_banner'] }],
    outputOptions: ['-map', '0:a:0', '-ac', '2', '-c:a', 'pcm_s16le', '-flush_packets', '0', '-f', 's16le'],
  });
});
