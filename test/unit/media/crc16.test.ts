// The LAME tag's CRC-16 (CRC-16/ARC: polynomial 0x8005 reflected, start 0), computed 8 bytes a step: equal to
// the catalogue's check value and to a bit-at-a-time reference at every length and split, so each tail
// length of the 8-byte steps and each starting CRC is covered.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc16 } from '../../../src/media/mp3-frame.js';
import { bitwiseCrc16 } from '../../helpers/bitwise-crc16.js';

describe('crc16', () => {
  it('gives CRC-16/ARC\'s check value for "123456789"', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0xbb3d);
  });

  it('equals a bit-at-a-time CRC for every length from 0 to 40 bytes and a 480 KB segment', () => {
    for (let length = 0; length <= 40; length += 1) {
      const bytes = randomBytes(length);
      expect(crc16(bytes), `length ${length}`).toBe(bitwiseCrc16(bytes));
    }
    const segment = randomBytes(480_000);
    expect(crc16(segment)).toBe(bitwiseCrc16(segment));
  });

  it('goes on from the CRC of the bytes before, wherever they were split', () => {
    const bytes = randomBytes(37);
    for (let split = 0; split <= bytes.length; split += 1)
      expect(crc16(bytes.subarray(split), crc16(bytes.subarray(0, split))), `split at ${split}`).toBe(bitwiseCrc16(bytes));
  });
});
