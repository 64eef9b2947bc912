import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioProbe } from '../../../src/media/ffmpeg.js';
import { createCatalog } from '../../../src/sources/catalog.js';
import { realMediaRoot } from '../../../src/sources/resolve-source.js';
import { createSourceList, type SourceListing } from '../../../src/sources/source-list.js';

let base: string;
let root: string;

beforeAll(async () => {
  base = await realMediaRoot(await mkdtemp(path.join(os.tmpdir(), 'source-list-')));
  root = path.join(base, 'media');
  const outside = path.join(base, 'outside');
  await mkdir(path.join(root, 'shows', 'season 1'), { recursive: true });
  await mkdir(path.join(root, 'folder.mp3'));
  await mkdir(outside);
  await writeFile(path.join(root, 'b.mp3'), 'ID3 audio');
  await writeFile(path.join(root, 'a.mp3'), 'ID3 audio');
  await writeFile(path.join(root, 'shows', 'season 1', 'épisode 1.mp3'), 'ID3 audio');
  await writeFile(path.join(root, 'folder.mp3', 'inner.mp3'), 'ID3 audio');
  await writeFile(path.join(root, 'broken.mp3'), 'not audio');
  await writeFile(path.join(root, 'empty.mp3'), '');
  await writeFile(path.join(root, 'notes.txt'), 'ID3 audio');
  await writeFile(path.join(root, 'LOUD.MP3'), 'ID3 audio');
  await writeFile(path.join(root, '..mp3'), 'ID3 audio');
  await writeFile(path.join(root, 'back\\slash.mp3'), 'ID3 audio');
  await writeFile(path.join(outside, 'secret.mp3'), 'ID3 audio');
  await symlink(path.join(outside, 'secret.mp3'), path.join(root, 'escape.mp3'));
  await symlink(outside, path.join(root, 'outdir'));
  await symlink(path.join(root, 'a.mp3'), path.join(root, 'alias.mp3'));
  await symlink(path.join(root, 'missing.mp3'), path.join(root, 'dangling.mp3'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A probe that reads 'ID3 audio' files as 12.5 s of MP3 and fails on anything else; counts calls in flight. */
function fakeProbe() {
  const seen = { inFlight: 0, maxInFlight: 0, calls: 0 };
  const probe = async (file: string): Promise<AudioProbe> => {
    seen.calls++;
    seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    seen.inFlight--;
    if (!file.includes('broken'))
      return { formatName: 'mp3', codecName: 'mp3', durationSeconds: 12.5, sampleRate: 44100, channels: 2, bitRate: 128000 };
    throw new Error('Invalid data found when processing input');
  };
  return { probe, seen };
}

async function listing(limits?: {
  maxSources: number;
  maxEntries: number;
}): Promise<{ result: SourceListing; seen: ReturnType<typeof fakeProbe>['seen'] }> {
  const { probe, seen } = fakeProbe();
  const catalog = await createCatalog({ mediaRoot: root, probe });
  const list = await createSourceList({ mediaRoot: root, catalog, ...(limits ? { limits } : {}) });
  return { result: await list.list(), seen };
}

const names = (result: SourceListing) => result.sources.map((entry) => entry.source.join('/'));

describe('the source list', () => {
  it('lists every .mp3 below the root by its decoded source path, in name order, folders walked', async () => {
    const { result } = await listing();
    expect(names(result)).toEqual(['a', 'alias', 'b', 'broken', 'empty', 'folder.mp3/inner', 'shows/season 1/épisode 1']);
    expect(result.truncated).toBe(false);
    const first = result.sources[0];
    expect(first && 'facts' in first && first.facts).toMatchObject({ path: ['a'], durationMs: 12_500, sampleRate: 44100 });
  });

  it('leaves out symlinks that leave the root or dangle, symlinked folders, other extensions and unspellable names', async () => {
    const listed = names((await listing()).result);
    for (const absent of ['escape', 'outdir/secret', 'dangling', 'notes', 'LOUD', '.', 'back\\slash']) expect(listed).not.toContain(absent);
  });

  it('lists files that fail probing with the reason a request for them would get', async () => {
    const { result } = await listing();
    const byName = new Map(result.sources.map((entry) => [entry.source.join('/'), entry]));
    expect(byName.get('broken')).toEqual({
      source: ['broken'],
      error: "'broken' is not a decodable MP3 file; replace the file with a valid MP3.",
    });
    expect(byName.get('empty')).toEqual({ source: ['empty'], error: "'empty' is not a decodable MP3 file: it is empty." });
  });

  it('stops at the limit of .mp3 names walked (listed or not) and says so', async () => {
    // The first three names in order are '.' (from '..mp3', no URL can spell it), 'a' and 'alias'.
    const { result } = await listing({ maxSources: 3, maxEntries: 1000 });
    expect(names(result)).toEqual(['a', 'alias']);
    expect(result.truncated).toBe(true);
  });

  it('stops at the directory entry limit and says so', async () => {
    const { result } = await listing({ maxSources: 1000, maxEntries: 3 });
    expect(result.sources.length).toBeLessThanOrEqual(3);
    expect(result.truncated).toBe(true);
  });

  it('probes at most four new sources at once', async () => {
    const { seen } = await listing();
    expect(seen.calls).toBeGreaterThan(4);
    expect(seen.maxInFlight).toBeLessThanOrEqual(4);
  });
});
