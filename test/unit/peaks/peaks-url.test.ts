import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../src/errors.js';
import { canonicalPeaksUrl, isPeaksPath, parsePeaksRequest } from '../../../src/peaks/peaks-url.js';

describe('the peaks URL', () => {
  it('is told from a source description by its suffix', () => {
    expect(isPeaksPath('/sources/demo/tones/peaks.json')).toBe(true);
    expect(isPeaksPath('/sources/demo/tones/peaks.dat')).toBe(true);
    expect(isPeaksPath('/sources/demo/tones')).toBe(false);
    expect(isPeaksPath('/sources/demo/tones/peaks.txt')).toBe(false);
  });

  it('defaults to 256 samples per pixel at 8 bits, and writes defaults out of the canonical URL', () => {
    const asked = parsePeaksRequest('/sources/My%20Show/ep%201/peaks.json', {});
    expect(asked).toEqual({ source: ['My Show', 'ep 1'], format: 'json', samplesPerPixel: 256, bits: 8 });
    expect(canonicalPeaksUrl(asked)).toBe('/sources/My%20Show/ep%201/peaks.json');
    expect(canonicalPeaksUrl(parsePeaksRequest('/sources/a/peaks.dat', { bits: '16', samples_per_pixel: '256' }))).toBe(
      '/sources/a/peaks.dat?bits=16',
    );
    expect(canonicalPeaksUrl(parsePeaksRequest('/sources/a/peaks.json', { bits: '16', samples_per_pixel: '4096' }))).toBe(
      '/sources/a/peaks.json?samples_per_pixel=4096&bits=16',
    );
  });

  it.each([
    [{ samples_per_pixel: '300' }],
    [{ samples_per_pixel: '0256' }],
    [{ samples_per_pixel: '65536' }],
    [{ samples_per_pixel: ['256', '512'] }],
    [{ bits: '24' }],
    [{ zoom: '256' }],
  ])('refuses %j with 400', (query) => {
    expect(() => parsePeaksRequest('/sources/a/peaks.json', query)).toThrow(BadRequest);
  });
});
