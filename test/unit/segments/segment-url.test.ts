import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../src/errors.js';
import { parseRenderOptions, type SegmentQuery } from '../../../src/segments/render-options.js';
import { canonicalSegmentUrl, parseSegmentPath, parseSourcePath, type SegmentRequest } from '../../../src/segments/segment-url.js';

/** What the segment route does with a raw request URL. */
function parseUrl(url: string): SegmentRequest {
  const [path = '', query = ''] = url.split('?', 2);
  const params = Object.fromEntries(new URLSearchParams(query)) as SegmentQuery;
  return { ...parseSegmentPath(path), options: parseRenderOptions(params), download: params.download === '1' };
}

function refusal(parse: () => unknown): BadRequest {
  try {
    parse();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequest);
    return error as BadRequest;
  }
  throw new Error('the path was accepted');
}

describe('parseSegmentPath', () => {
  it('reads the source segments and the times of a canonical path', () => {
    expect(parseSegmentPath('/segments/shows/ep42/754.5-812.mp3')).toEqual({
      source: ['shows', 'ep42'],
      startMs: 754_500,
      endMs: 812_000,
    });
  });

  it('drops doubled slashes', () => {
    expect(parseSegmentPath('/segments//shows///ep42//90-120.mp3/')).toEqual({
      source: ['shows', 'ep42'],
      startMs: 90_000,
      endMs: 120_000,
    });
  });

  it('percent-decodes each source segment on its own', () => {
    expect(parseSegmentPath('/segments/my%20show/caf%C3%A9/100%25/0-1.mp3').source).toEqual(['my show', 'café', '100%']);
  });

  it('keeps names that merely contain dots', () => {
    expect(parseSegmentPath('/segments/ep.1/...a/a../0-1.mp3').source).toEqual(['ep.1', '...a', 'a..']);
  });

  it.each(['..', '.', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '%2e', '%2E'])("refuses the '.' or '..' segment %j", (segment) => {
    expect(refusal(() => parseSegmentPath(`/segments/a/${segment}/b/0-1.mp3`)).detail).toContain("'.' or '..'");
  });

  it.each(['a%2Fb', 'a%2fb', '%2F', 'a%5Cb', 'a%5cb'])('refuses the encoded slash or backslash in %j', (segment) => {
    expect(refusal(() => parseSegmentPath(`/segments/${segment}/0-1.mp3`)).detail).toContain('slash or backslash');
  });

  it.each(['a%00', '%00', 'a%0Ab', 'a%0d', 'a%1F', 'a%7F', 'a%09b'])('refuses the NUL or control character in %j', (segment) => {
    expect(refusal(() => parseSegmentPath(`/segments/${segment}/0-1.mp3`)).detail).toContain('control characters');
  });

  it.each(['%', 'a%2', '%zz', '%C3', '%FF', '%C3%28'])('refuses the invalid percent-encoding %j in a source segment', (segment) => {
    expect(refusal(() => parseSegmentPath(`/segments/${segment}/0-1.mp3`)).detail).toContain('not valid percent-encoding');
  });

  it('refuses invalid percent-encoding in the times', () => {
    expect(refusal(() => parseSegmentPath('/segments/a/0-1%.mp3')).detail).toContain('not valid percent-encoding');
  });

  it.each([
    ['5-5', "'end' (5) must be greater than 'start' (5)."],
    ['5-4.999', "'end' (4.999) must be greater than 'start' (5)."],
    ['05.0-5', "'end' (5) must be greater than 'start' (5)."],
  ])('refuses the times %j, whose end is not after the start', (times, detail) => {
    expect(refusal(() => parseSegmentPath(`/segments/a/${times}.mp3`)).detail).toBe(detail);
  });

  it.each(['/segments/a/0-1', '/segments/a/0-1.wav', '/segments/a/0-1.mp3.txt', '/segments/a/0-1mp3', '/segments/a/01.mp3'])(
    'refuses %j, which does not end in {start}-{end}.mp3',
    (path) => {
      expect(refusal(() => parseSegmentPath(path)).detail).toContain('Expected /segments/{source}/{start}-{end}.mp3');
    },
  );

  it.each(['/segments/0-1.mp3', '/segments//0-1.mp3', '/segments/', '/segments//'])('refuses %j, which names no source', (path) => {
    expect(refusal(() => parseSegmentPath(path)).status).toBe(400);
  });

  it.each(['/segments/a/-1-2.mp3', '/segments/a/1--2.mp3', '/segments/a/1-2-3.mp3', '/segments/a/1e3-2e3.mp3', '/segments/a/1.2345-2.mp3'])(
    'refuses the malformed times in %j',
    (path) => {
      expect(refusal(() => parseSegmentPath(path)).status).toBe(400);
    },
  );

  it('refuses a path outside /segments/', () => {
    expect(refusal(() => parseSegmentPath('/segment/a/0-1.mp3')).detail).toBe('Segment URLs start with /segments/.');
  });

  it('refuses a path longer than 2048 characters and accepts one of exactly 2048', () => {
    const tail = '/0-1.mp3';
    const fits = `/segments/${'a/'.repeat(1000)}${'b'.repeat(2048 - 10 - 2000 - tail.length)}${tail}`;
    expect(fits).toHaveLength(2048);
    expect(parseSegmentPath(fits).source).toHaveLength(1001);
    expect(refusal(() => parseSegmentPath(`${fits.slice(0, -tail.length)}b${tail}`)).detail).toContain('longer than 2048');
  });

  it('refuses a source segment longer than 255 bytes once decoded', () => {
    expect(parseSegmentPath(`/segments/${'a'.repeat(255)}/0-1.mp3`).source).toEqual(['a'.repeat(255)]);
    expect(refusal(() => parseSegmentPath(`/segments/${'a'.repeat(256)}/0-1.mp3`)).detail).toContain('longer than 255 bytes');
    expect(refusal(() => parseSegmentPath(`/segments/${'%C3%A9'.repeat(128)}/0-1.mp3`)).detail).toContain('longer than 255 bytes');
  });
});

describe('parseSourcePath', () => {
  it('reads the decoded segments of a source path', () => {
    expect(parseSourcePath('demo/tones')).toEqual(['demo', 'tones']);
    expect(parseSourcePath('/my%20show//caf%C3%A9/')).toEqual(['my show', 'café']);
  });

  it.each(['', '/', '//'])('refuses %j, which names no source', (path) => {
    expect(refusal(() => parseSourcePath(path)).detail).toContain('Name a source');
  });

  it.each(['..', '%2e%2e/x', 'a/%2E/b', 'a%2Fb', 'a%5cb', 'a%00', '%zz'])('refuses the unsafe source path %j', (path) => {
    expect(refusal(() => parseSourcePath(path)).status).toBe(400);
  });

  it('refuses a path longer than 2048 characters', () => {
    expect(refusal(() => parseSourcePath('a/'.repeat(1025))).detail).toContain('longer than 2048');
  });
});

describe('canonicalSegmentUrl', () => {
  const copy = { mode: 'copy' } as const;

  it('writes a copy-mode segment without a query', () => {
    expect(canonicalSegmentUrl({ source: ['shows', 'ep42'], startMs: 754_500, endMs: 812_000, options: copy, download: false })).toBe(
      '/segments/shows/ep42/754.5-812.mp3',
    );
  });

  it('writes the times without leading zeros or trailing fraction zeros', () => {
    expect(canonicalSegmentUrl(parseUrl('/segments/a/090.500-0120.000.mp3'))).toBe('/segments/a/90.5-120.mp3');
  });

  it('drops a doubled slash from the canonical URL', () => {
    expect(canonicalSegmentUrl(parseUrl('/segments//shows//ep42/90-120.mp3'))).toBe('/segments/shows/ep42/90-120.mp3');
  });

  it('writes the query in a fixed order whatever order it came in', () => {
    expect(
      canonicalSegmentUrl(parseUrl('/segments/a/1-2.mp3?download=1&fade_out=1.250&channels=1&fade_in=.5&bitrate=192&mode=exact')),
    ).toBe('/segments/a/1-2.mp3?mode=exact&bitrate=192&channels=1&fade_in=0.5&fade_out=1.25&download=1');
  });

  it('drops defaults from the query', () => {
    expect(canonicalSegmentUrl(parseUrl('/segments/a/1-2.mp3?mode=copy'))).toBe('/segments/a/1-2.mp3');
    expect(canonicalSegmentUrl(parseUrl('/segments/a/1-2.mp3?mode=exact&bitrate=128&fade_in=0&fade_out=0.000'))).toBe(
      '/segments/a/1-2.mp3?mode=exact',
    );
  });

  it('keeps download=1 in copy mode', () => {
    expect(canonicalSegmentUrl(parseUrl('/segments/a/1-2.mp3?download=1'))).toBe('/segments/a/1-2.mp3?download=1');
  });

  it('percent-encodes spaces, percent signs and non-ASCII letters in source names', () => {
    const request: SegmentRequest = { source: ['my show', 'café', '100%', '✓'], startMs: 0, endMs: 1_000, options: copy, download: false };
    expect(canonicalSegmentUrl(request)).toBe('/segments/my%20show/caf%C3%A9/100%25/%E2%9C%93/0-1.mp3');
  });

  // encodeURIComponent leaves RFC 3986 sub-delims ( ) ! ' * literal; what matters is that there is one spelling.
  it('writes parentheses literally and redirects their percent-encoded spelling to it', () => {
    const literal = '/segments/my%20show%20(live)/0-1.mp3';
    expect(canonicalSegmentUrl(parseUrl('/segments/my%20show%20%28live%29/0-1.mp3'))).toBe(literal);
    expect(canonicalSegmentUrl(parseUrl(literal))).toBe(literal);
  });

  it('spells a name typed with and without percent-encoding the same way', () => {
    expect(canonicalSegmentUrl(parseUrl('/segments/%61%62/0-1.mp3'))).toBe('/segments/ab/0-1.mp3');
  });

  it.each([
    '/segments//shows//ep42/0754.50-0812.000.mp3',
    '/segments/my%20show%20%28live%29/caf%C3%A9/1-2.mp3?download=1',
    '/segments/a/1-2.mp3?download=1&mode=exact&fade_out=01.0&bitrate=128&channels=2',
    '/segments/%E2%9C%93/%25/.5-1.mp3',
    "/segments/a'b!c*d~e/1-2.mp3",
    '/segments/caf%c3%a9/1-2.mp3',
  ])('the canonical URL of %j is a fixed point', (url) => {
    const canonical = canonicalSegmentUrl(parseUrl(url));
    expect(canonicalSegmentUrl(parseUrl(canonical))).toBe(canonical);
    expect(parseUrl(canonical)).toEqual(parseUrl(url));
  });
});
