import { describe, expect, it } from 'vitest';
import { BadRequest } from '../../../src/errors.js';
import { canonicalQuery, parseRenderOptions, type SegmentQuery } from '../../../src/segments/render-options.js';

function refusal(query: SegmentQuery): BadRequest {
  try {
    parseRenderOptions(query);
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequest);
    return error as BadRequest;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe('parseRenderOptions', () => {
  it('is copy mode when no mode is given', () => {
    expect(parseRenderOptions({})).toEqual({ mode: 'copy' });
    expect(parseRenderOptions({ download: '1' })).toEqual({ mode: 'copy' });
  });

  it('is copy mode when mode=copy', () => {
    expect(parseRenderOptions({ mode: 'copy' })).toEqual({ mode: 'copy' });
  });

  it.each(['bitrate', 'channels', 'fade_in', 'fade_out'] as const)('refuses %s in copy mode, naming it', (name) => {
    const detail = `'${name}' applies only to mode=exact; add mode=exact or drop it.`;
    expect(refusal({ [name]: '1' }).detail).toBe(detail);
    expect(refusal({ mode: 'copy', [name]: '1' }).detail).toBe(detail);
  });

  it('gives exact mode its defaults: 128 kbps, the source channels, no fades', () => {
    expect(parseRenderOptions({ mode: 'exact' })).toEqual({ mode: 'exact', bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 0 });
  });

  it('reads every exact-mode option', () => {
    expect(parseRenderOptions({ mode: 'exact', bitrate: '320', channels: '1', fade_in: '.5', fade_out: '2.250' })).toEqual({
      mode: 'exact',
      bitrateKbps: 320,
      channels: 1,
      fadeInMs: 500,
      fadeOutMs: 2_250,
    });
  });

  it('refuses a fade with more than three fraction digits, naming it', () => {
    expect(refusal({ mode: 'exact', fade_out: '1.0001' }).detail).toContain("'fade_out'");
  });
});

describe('canonicalQuery', () => {
  it('is empty for copy mode without download', () => {
    expect(canonicalQuery({ mode: 'copy' }, false)).toEqual([]);
  });

  it('is download=1 alone for a copy-mode download', () => {
    expect(canonicalQuery({ mode: 'copy' }, true)).toEqual([['download', '1']]);
  });

  it('is mode=exact alone for exact mode with its defaults', () => {
    expect(canonicalQuery({ mode: 'exact', bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 0 }, false)).toEqual([
      ['mode', 'exact'],
    ]);
  });

  it('lists every non-default option in the fixed order mode, bitrate, channels, fade_in, fade_out, download', () => {
    expect(canonicalQuery({ mode: 'exact', bitrateKbps: 64, channels: 2, fadeInMs: 1_500, fadeOutMs: 10 }, true)).toEqual([
      ['mode', 'exact'],
      ['bitrate', '64'],
      ['channels', '2'],
      ['fade_in', '1.5'],
      ['fade_out', '0.01'],
      ['download', '1'],
    ]);
  });

  it('is what parsing its own output gives back', () => {
    const options = parseRenderOptions({ mode: 'exact', fade_out: '3', channels: '1' });
    const again = parseRenderOptions(Object.fromEntries(canonicalQuery(options, false)) as SegmentQuery);
    expect(again).toEqual(options);
  });
});
