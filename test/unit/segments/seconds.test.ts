import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../src/errors.js';
import { formatSeconds, MAX_SECONDS, parseSeconds } from '../../../src/segments/seconds.js';

function refusal(text: string): BadRequest {
  try {
    parseSeconds(text, 'start');
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequest);
    return error as BadRequest;
  }
  throw new Error(`parseSeconds accepted ${JSON.stringify(text)}`);
}

describe('parseSeconds', () => {
  it.each([
    ['90', 90_000],
    ['090', 90_000],
    ['90.50', 90_500],
    ['.5', 500],
    ['1.2340', 1_234],
    ['0', 0],
    ['0.001', 1],
    ['754.5', 754_500],
    ['9999999.999', 9_999_999_999],
  ])('reads %j as %d milliseconds', (text, ms) => {
    expect(parseSeconds(text, 'start')).toBe(ms);
  });

  it.each(['', '.', '-1', '1e3', 'NaN', 'Infinity', ' 1', '1 ', '+1', '0x10', '1,5', '١٢', '1.2.3'])(
    'refuses %j as a malformed number',
    (text) => {
      expect(refusal(text).status).toBe(400);
    },
  );

  it('refuses a fourth fraction digit that is not zero', () => {
    expect(refusal('1.2345').detail).toContain('at most three fraction digits');
  });

  it('accepts the largest time and refuses anything past it', () => {
    expect(parseSeconds(String(MAX_SECONDS), 'end')).toBe(9_999_999_000);
    expect(refusal('10000000').detail).toContain(`at most ${MAX_SECONDS} seconds`);
    expect(refusal('99999999999999999999').detail).toContain(`at most ${MAX_SECONDS} seconds`);
  });

  it('refuses an overlong spelling even when its value is small', () => {
    expect(parseSeconds(`${'0'.repeat(32)}1`, 'start')).toBe(1_000);
    expect(refusal(`${'0'.repeat(33)}1`).status).toBe(400);
    expect(refusal(`1.${'0'.repeat(100)}`).status).toBe(400);
  });

  it('names the parameter and quotes the text in its refusal', () => {
    let error: unknown;
    try {
      parseSeconds('abc', 'fade_in');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(BadRequest);
    expect((error as BadRequest).detail).toBe("'fade_in' must be a number of seconds such as 90 or 754.5 (got 'abc').");
  });
});

describe('formatSeconds', () => {
  it.each([
    [0, '0'],
    [1, '0.001'],
    [500, '0.5'],
    [90_000, '90'],
    [90_500, '90.5'],
    [120_050, '120.05'],
    [1_234, '1.234'],
    [9_999_999_999, '9999999.999'],
  ])('writes %d milliseconds as %j', (ms, text) => {
    expect(formatSeconds(ms)).toBe(text);
  });
});

describe('round trips', () => {
  it.each([
    ['090', '90'],
    ['90.50', '90.5'],
    ['.5', '0.5'],
    ['1.2340', '1.234'],
    ['000.000', '0'],
  ])('%j is canonically %j', (text, canonical) => {
    expect(formatSeconds(parseSeconds(text, 'start'))).toBe(canonical);
  });

  it.each(['0', '0.001', '0.5', '90', '754.5', '3600.125', '9999999.999'])('the canonical %j reads back to itself', (text) => {
    expect(formatSeconds(parseSeconds(text, 'start'))).toBe(text);
  });

  it('every millisecond of the first ten seconds survives format then parse', () => {
    for (let ms = 0; ms <= 10_000; ms += 1) expect(parseSeconds(formatSeconds(ms), 'start')).toBe(ms);
  });
});
