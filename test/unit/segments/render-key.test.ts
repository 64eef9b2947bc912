import { describe, expect, it } from 'vitest';
import type { RenderSpec } from '../../../src/media/render-args.js';
import { renderKey, type SourceIdentity } from '../../../src/segments/render-key.js';

const source: SourceIdentity = { name: 'shows/ep42', size: 1_234_567, mtimeMs: 1_700_000_000_000 };
const spec: RenderSpec = { startMs: 754_500, endMs: 812_000, sampleRate: 44100, options: { mode: 'copy' } };
const exact: RenderSpec = { ...spec, options: { mode: 'exact', bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 0 } };
const key = renderKey(source, spec);

describe('renderKey', () => {
  it('is 32 lowercase hex characters', () => {
    expect(key).toMatch(/^[0-9a-f]{32}$/);
  });

  it('is the same for the same inputs, given as fresh objects', () => {
    expect(renderKey({ ...source }, { ...spec, options: { mode: 'copy' } })).toBe(key);
    expect(renderKey(source, { ...exact })).toBe(renderKey(source, exact));
  });

  it.each<[string, SourceIdentity, RenderSpec]>([
    ['source name', { ...source, name: 'shows/ep43' }, spec],
    ['source size', { ...source, size: source.size + 1 }, spec],
    ['source mtime', { ...source, mtimeMs: source.mtimeMs + 1 }, spec],
    ['start', source, { ...spec, startMs: spec.startMs + 1 }],
    ['end', source, { ...spec, endMs: spec.endMs + 1 }],
    ['mode', source, exact],
  ])('changes with the %s', (_, otherSource, otherSpec) => {
    expect(renderKey(otherSource, otherSpec)).not.toBe(key);
  });

  it.each<[string, Partial<Extract<RenderSpec['options'], { mode: 'exact' }>>]>([
    ['bit rate', { bitrateKbps: 192 }],
    ['channels', { channels: 1 }],
    ['fade-in', { fadeInMs: 1 }],
    ['fade-out', { fadeOutMs: 1 }],
  ])('changes with the %s of an exact render', (_, change) => {
    const changed: RenderSpec = {
      ...exact,
      options: { ...(exact.options as Extract<RenderSpec['options'], { mode: 'exact' }>), ...change },
    };
    expect(renderKey(source, changed)).not.toBe(renderKey(source, exact));
  });

  it('does not let a name and a time run into each other', () => {
    expect(renderKey({ ...source, name: 'a1' }, { ...spec, startMs: 2 })).not.toBe(
      renderKey({ ...source, name: 'a' }, { ...spec, startMs: 12 }),
    );
  });
});
