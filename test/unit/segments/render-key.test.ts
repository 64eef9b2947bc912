import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { RENDERER_VERSION, type RenderSpec } from '../../../src/render/render-spec.js';
import { renderKey, type SourceIdentity } from '../../../src/segments/render-key.js';

const source: SourceIdentity = { path: ['shows', 'ep42'], size: 1_234_567, mtimeMs: 1_700_000_000_000 };
const spec: RenderSpec = { startMs: 754_500, endMs: 812_000, sampleRate: 44100, options: { mode: 'copy' } };
const exact: RenderSpec = { ...spec, options: { mode: 'exact', bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 0 } };
const key = renderKey(source, spec);
/** A path whose URL spelling differs from its decoded one. */
const spaced: SourceIdentity = { ...source, path: ['my show', 'café (live)'] };

/**
 * The key as documented, computed here without the code under test: SHA-256 of the JSON array
 * [rendererVersion, name, size, mtimeMs, startMs, endMs, ...parameters], its first 32 hex characters; the
 * name is the source's path as in URLs (each segment percent-encoded, joined by '/').
 */
function documentedKey(rendererVersion: number, identity: SourceIdentity, render: RenderSpec): string {
  const { options } = render;
  const parameters =
    options.mode === 'copy' ? ['copy'] : ['exact', options.bitrateKbps, options.channels, options.fadeInMs, options.fadeOutMs];
  const name = identity.path.map(encodeURIComponent).join('/');
  const fields = [rendererVersion, name, identity.size, identity.mtimeMs, render.startMs, render.endMs, ...parameters];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 32);
}

describe('renderKey', () => {
  it("of a source on the HTTP origin includes its ETag, after the documented fields; a local file's key is as it was", () => {
    const remote = { ...source, validator: '"5f-abc"' };
    expect(renderKey(remote, spec)).not.toBe(key);
    expect(renderKey({ ...source, validator: '"5f-abd"' }, spec)).not.toBe(renderKey(remote, spec));
    const fields = [RENDERER_VERSION, 'shows/ep42', source.size, source.mtimeMs, spec.startMs, spec.endMs, 'copy', '"5f-abc"'];
    expect(renderKey(remote, spec)).toBe(createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 32));
    expect(key).toBe(documentedKey(RENDERER_VERSION, source, spec));
  });

  it('is 32 lowercase hex characters', () => {
    expect(key).toMatch(/^[0-9a-f]{32}$/);
  });

  // Every stored render, job id and ETag is named by its key: a refactor that changes the key silently orphans
  // them all. Only a deliberate RENDERER_VERSION bump may change these literals (update them with it).
  it('is pinned: fixed sources and specs give the recorded keys for renderer version 6', () => {
    expect({ version: RENDERER_VERSION, copy: key, exact: renderKey(source, exact), spaced: renderKey(spaced, spec) }).toEqual({
      version: 6,
      copy: 'aa5c34e4128dd1f1eaed30a26a354bbf',
      exact: 'ce0aa51403592e1c62fee5d9b349c027',
      spaced: '8df1673487faba2ef70a4e8fc066476e',
    });
  });

  it('follows the documented recipe with the current RENDERER_VERSION', () => {
    for (const render of [spec, exact]) expect(renderKey(source, render)).toBe(documentedKey(RENDERER_VERSION, source, render));
    expect(renderKey(spaced, spec)).toBe(documentedKey(RENDERER_VERSION, spaced, spec));
  });

  it('changes when RENDERER_VERSION is bumped: every key moves to the recipe of the new version', async () => {
    const renderSpecModule = '../../../src/render/render-spec.js';
    vi.resetModules();
    vi.doMock(renderSpecModule, async (importOriginal) => ({
      ...(await importOriginal<typeof import('../../../src/render/render-spec.js')>()),
      RENDERER_VERSION: RENDERER_VERSION + 1,
    }));
    try {
      const bumped = await import('../../../src/segments/render-key.js');
      for (const render of [spec, exact]) {
        expect(bumped.renderKey(source, render)).toBe(documentedKey(RENDERER_VERSION + 1, source, render));
        expect(bumped.renderKey(source, render)).not.toBe(renderKey(source, render));
      }
    } finally {
      vi.doUnmock(renderSpecModule);
      vi.resetModules();
    }
  });

  it('is the same for the same inputs, given as fresh objects', () => {
    expect(renderKey({ ...source }, { ...spec, options: { mode: 'copy' } })).toBe(key);
    expect(renderKey(source, { ...exact })).toBe(renderKey(source, exact));
  });

  it.each<[string, SourceIdentity, RenderSpec]>([
    ['source path', { ...source, path: ['shows', 'ep43'] }, spec],
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
    expect(renderKey({ ...source, path: ['a1'] }, { ...spec, startMs: 2 })).not.toBe(
      renderKey({ ...source, path: ['a'] }, { ...spec, startMs: 12 }),
    );
  });

  it('is keyed with SIGNING_KEY where a deployment signs URLs: the public facts alone no longer give it', () => {
    const keyed = renderKey(source, spec, 'deployment-signing-key-1');
    expect(keyed).toMatch(/^[0-9a-f]{32}$/);
    expect(keyed).not.toBe(key);
    expect(keyed).not.toBe(documentedKey(RENDERER_VERSION, source, spec));
    expect(keyed).toBe(renderKey(source, spec, 'deployment-signing-key-1'));
    expect(renderKey(source, spec, 'deployment-signing-key-2')).not.toBe(keyed);
  });
});
