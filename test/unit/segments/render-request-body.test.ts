import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../src/errors.js';
import { parseRenderBody } from '../../../src/segments/render-request-body.js';
import { canonicalSegmentUrl, parseSegmentPath } from '../../../src/segments/segment-url.js';

describe('parseRenderBody (POST /renders)', () => {
  it('means the same segment as the URL with the same parameters', () => {
    const segment = parseRenderBody({
      source: 'My Show (2024)/épisode 1',
      start: 10,
      end: '20.50',
      mode: 'exact',
      bitrate: 64,
      channels: '1',
      fade_in: 0.5,
    });
    expect(canonicalSegmentUrl(segment)).toBe(
      '/segments/My%20Show%20(2024)/%C3%A9pisode%201/10-20.5.mp3?mode=exact&bitrate=64&channels=1&fade_in=0.5',
    );
    expect(segment.source).toEqual(parseSegmentPath('/segments/My%20Show%20(2024)/%C3%A9pisode%201/10-20.5.mp3').source);
  });

  it('takes download: true and leaves defaults out', () => {
    expect(canonicalSegmentUrl(parseRenderBody({ source: 'demo/tones', start: '010', end: 20, download: true }))).toBe(
      '/segments/demo/tones/10-20.mp3?download=1',
    );
  });

  it('refuses what a segment URL refuses, with the same words', () => {
    expect(() => parseRenderBody({ source: 'demo/../x', start: 1, end: 2 })).toThrow(BadRequest);
    expect(() => parseRenderBody({ source: 'demo/tones', start: 2, end: 1 })).toThrow(/greater than 'start'/);
    expect(() => parseRenderBody({ source: 'demo/tones', start: 0.1234, end: 1 })).toThrow(/three fraction digits/);
    expect(() => parseRenderBody({ source: 'demo/tones', start: 1e21, end: 1e22 })).toThrow(/number of seconds/);
    expect(() => parseRenderBody({ source: 'demo/tones', start: 1, end: 2, bitrate: 64 })).toThrow(/mode=exact/);
    expect(() => parseRenderBody({ source: '/', start: 1, end: 2 })).toThrow(/Name a source/);
    expect(() => parseRenderBody({ source: 'demo/a\u0000b', start: 1, end: 2 })).toThrow(/NUL/);
  });

  it('refuses half of a UTF-16 pair in a source name (JSON can carry one) as a 400, before any URL is written', () => {
    for (const source of ['demo/\ud800x', 'demo/x\udc00', '\udbff']) {
      expect(() => canonicalSegmentUrl(parseRenderBody({ source, start: 1, end: 2 }))).toThrow(BadRequest);
    }
    // A whole pair is a character like any other.
    expect(canonicalSegmentUrl(parseRenderBody({ source: 'demo/\ud83c\udfb5', start: 1, end: 2 }))).toBe(
      '/segments/demo/%F0%9F%8E%B5/1-2.mp3',
    );
  });
});
