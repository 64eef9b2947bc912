import { describe, expect, it } from 'vitest';
import { matchesIfNoneMatch, resolveRange } from '../../../src/http/range.js';

const etag = '"a28cbdaac51d45a8ea0ff2edd4e7af34"';
const size = 1_000;

function range(header: string | undefined, ifRange?: string) {
  return resolveRange(size, header, ifRange, etag);
}

describe('resolveRange', () => {
  it('sends the whole body without a Range header', () => {
    expect(range(undefined)).toEqual({ kind: 'full' });
  });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, 999],
    ['bytes=-50', 950, 999],
    ['bytes=999-999', 999, 999],
    ['bytes=0-0', 0, 0],
    ['bytes=500-5000', 500, 999],
    ['bytes=-5000', 0, 999],
    ['bytes=-1000', 0, 999],
    ['Bytes = 10-19 ', 10, 19],
  ])('answers %j with bytes %d-%d', (header, start, end) => {
    expect(range(header)).toEqual({ kind: 'partial', start, end });
  });

  it.each(['bytes=1000-', 'bytes=1000-1100', 'bytes=5000-6000', 'bytes=-0'])('answers %j as unsatisfiable', (header) => {
    expect(range(header)).toEqual({ kind: 'unsatisfiable' });
  });

  it('answers any range of an empty body as unsatisfiable', () => {
    expect(resolveRange(0, 'bytes=0-', undefined, etag)).toEqual({ kind: 'unsatisfiable' });
    expect(resolveRange(0, 'bytes=-10', undefined, etag)).toEqual({ kind: 'unsatisfiable' });
  });

  it.each([
    ['a last byte before the first', 'bytes=500-100'],
    ['several ranges', 'bytes=0-9,20-29'],
    ['several ranges with a space', 'bytes=0-9, -5'],
    ['another unit', 'items=0-9'],
    ['no unit', '0-99'],
    ['no range at all', 'bytes='],
    ['a lone dash', 'bytes=-'],
    ['negative numbers', 'bytes=-5-10'],
    ['letters', 'bytes=a-b'],
    ['a decimal', 'bytes=1.5-9'],
    ['garbage', '%%%'],
  ])('sends the whole body for %s (%j)', (_, header) => {
    expect(range(header)).toEqual({ kind: 'full' });
  });

  it('honours the range when If-Range names the current ETag', () => {
    expect(range('bytes=0-99', etag)).toEqual({ kind: 'partial', start: 0, end: 99 });
  });

  it.each(['"stale"', `W/${etag}`, 'Wed, 21 Oct 2015 07:28:00 GMT'])('sends the whole body when If-Range is %j', (ifRange) => {
    expect(range('bytes=0-99', ifRange)).toEqual({ kind: 'full' });
  });

  it('clamps a huge last byte to the end of the body', () => {
    expect(range('bytes=0-99999999999999999999999999')).toEqual({ kind: 'partial', start: 0, end: 999 });
    expect(range(`bytes=10-${'9'.repeat(400)}`)).toEqual({ kind: 'partial', start: 10, end: 999 });
  });

  it('answers a huge first byte as unsatisfiable', () => {
    expect(range('bytes=99999999999999999999999999-')).toEqual({ kind: 'unsatisfiable' });
    expect(range(`bytes=${'9'.repeat(400)}-`)).toEqual({ kind: 'unsatisfiable' });
  });

  it('answers a huge suffix with the whole body as a range', () => {
    expect(range('bytes=-99999999999999999999999999')).toEqual({ kind: 'partial', start: 0, end: 999 });
  });
});

describe('matchesIfNoneMatch', () => {
  it('matches the ETag itself', () => {
    expect(matchesIfNoneMatch(etag, etag)).toBe(true);
  });

  it('matches the ETag anywhere in a list', () => {
    expect(matchesIfNoneMatch(`"one", ${etag} ,"two"`, etag)).toBe(true);
    expect(matchesIfNoneMatch(`"one",${etag}`, etag)).toBe(true);
  });

  it('matches the weak form of the ETag', () => {
    expect(matchesIfNoneMatch(`W/${etag}`, etag)).toBe(true);
    expect(matchesIfNoneMatch(`"one", W/${etag}`, etag)).toBe(true);
  });

  it('matches *', () => {
    expect(matchesIfNoneMatch('*', etag)).toBe(true);
    expect(matchesIfNoneMatch(' * ', etag)).toBe(true);
  });

  it('does not match without a header, with other tags, or with the bare hash', () => {
    expect(matchesIfNoneMatch(undefined, etag)).toBe(false);
    expect(matchesIfNoneMatch('', etag)).toBe(false);
    expect(matchesIfNoneMatch('"one", W/"two"', etag)).toBe(false);
    expect(matchesIfNoneMatch(etag.slice(1, -1), etag)).toBe(false);
  });
});
