// The catalog reuses a source's resolution (real path, size, mtime) for its TTL, then looks again: a replaced
// file is seen within that time; a file that was missing is seen at once. The TTL here is longer than the
// shipped second, so a busy machine cannot let it run out between two steps of the test.
import { copyFile, mkdir, mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';
import type { AudioProbe } from '../../../src/media/ffmpeg.js';
import { createCatalog, type Catalog } from '../../../src/sources/catalog.js';

const demo = (name: string) => path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo', `${name}.mp3`);
const probe = async (): Promise<AudioProbe> => ({
  formatName: 'mp3',
  codecName: 'mp3',
  durationSeconds: 10,
  sampleRate: 44_100,
  channels: 2,
  bitRate: 128_000,
});
const RESOLVE_TTL_MS = 3_000;
let root: string;
let catalog: Catalog;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'catalog-resolution-'));
  await mkdir(path.join(root, 'a'));
  await copyFile(demo('tones'), path.join(root, 'a', 'song.mp3'));
  catalog = await createCatalog({ mediaRoot: root, probe, resolveTtlMs: RESOLVE_TTL_MS });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('source resolution', () => {
  it('is reused for a moment, then a replaced file is seen', async () => {
    const before = await catalog.describe(['a', 'song']);
    await copyFile(demo('chirp'), path.join(root, 'a', 'song.mp3'));
    expect((await catalog.describe(['a', 'song'])).size).toBe(before.size);
    await new Promise((resolve) => setTimeout(resolve, RESOLVE_TTL_MS + 100));
    const after = await catalog.describe(['a', 'song']);
    expect(after.size).not.toBe(before.size);
  });

  it('of a missing file is not remembered: the file is served as soon as it exists', async () => {
    await expect(catalog.describe(['a', 'later'])).rejects.toThrow(/no source/i);
    await copyFile(demo('talk'), path.join(root, 'a', 'later.mp3'));
    expect((await catalog.describe(['a', 'later'])).file).toBe(path.join(await realpath(root), 'a', 'later.mp3'));
  });
});
