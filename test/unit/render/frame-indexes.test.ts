// The worker's frame indexes, on real corpus files in a temp folder: one walk per source identity, a
// replaced file walked again, the paths concat cannot name left to ffmpeg's seek, a failed walk not kept.
import { copyFile, mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyOfCorpus, corpusFile } from '../../helpers/corpus-copy.js';
import type { RenderSpec } from '../../../src/render/render-spec.js';
import type { SourceFile } from '../../../src/media/source-file.js';
import { createFrameIndexes } from '../../../src/render/frame-indexes.js';

const corpus = corpusFile;
const spec: RenderSpec = { startMs: 1_000, endMs: 2_000, options: { mode: 'copy' }, sampleRate: 44_100 };
let dir: string;

const sourceAt = (name: string, from: string): Promise<SourceFile> => copyOfCorpus(dir, name, from);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'frame-indexes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('frame indexes', () => {
  it('cuts a clean source by its index, and answers the same cut for the same identity', async () => {
    const indexes = createFrameIndexes({ maxBytes: 1 << 20 });
    const source = await sourceAt('a.mp3', 'cbr-44k-128-stereo.mp3');
    const cut = await indexes.cutFor(source, spec);
    // The first frame at or after 1 s: (44,100 + the 1,105 samples ffmpeg skips) / 1,152 = 39.2, so frame 40.
    expect(cut).toMatchObject({ firstFrame: 40, tailTags: false });
    expect(await indexes.cutFor(source, spec)).toEqual(cut);
  });

  it('walks a replaced file again: a new size or mtime is a new identity', async () => {
    const indexes = createFrameIndexes({ maxBytes: 1 << 20 });
    const before = await sourceAt('b.mp3', 'cbr-44k-128-stereo.mp3');
    const cbrCut = await indexes.cutFor(before, spec);
    const after = await sourceAt('b.mp3', 'vbr-44k-q4-joint.mp3');
    await utimes(after.file, new Date(2_000_000_000_000), new Date(2_000_000_000_000));
    const vbrCut = await indexes.cutFor({ ...after, mtimeMs: 2_000_000_000_000 }, spec);
    expect(vbrCut?.ranges).not.toEqual(cbrCut?.ranges);
  });

  it("leaves a path with a | to ffmpeg's own seek (concat splits on it), and a damaged source too", async () => {
    const indexes = createFrameIndexes({ maxBytes: 1 << 20 });
    expect(await indexes.cutFor(await sourceAt('a|b.mp3', 'cbr-44k-128-stereo.mp3'), spec)).toBeNull();
    expect(await indexes.cutFor(await sourceAt('junk.mp3', 'broken/junk-between-frames.mp3'), spec)).toBeNull();
  });

  it('cuts the same bytes whether its memory bound holds the index or not', async () => {
    const source = await sourceAt('c.mp3', 'cbr-44k-128-stereo.mp3');
    const roomy = await createFrameIndexes({ maxBytes: 1 << 20 }).cutFor(source, spec);
    const tiny = createFrameIndexes({ maxBytes: 0 });
    expect(await tiny.cutFor(source, spec)).toEqual(roomy);
    expect(await tiny.cutFor(source, spec)).toEqual(roomy);
  });

  it('rejects when the file cannot be read, and does not keep the failure (a retry walks it again)', async () => {
    const indexes = createFrameIndexes({ maxBytes: 1 << 20 });
    const source = await sourceAt('d.mp3', 'cbr-44k-128-stereo.mp3');
    await rm(source.file);
    await expect(indexes.cutFor(source, spec)).rejects.toThrow(/ENOENT/);
    await copyFile(corpus('cbr-44k-128-stereo.mp3'), source.file);
    expect(await indexes.cutFor(source, spec)).not.toBeNull();
  });
});
