// The catalog describes a source from its frame index (its record beside the store), without ffprobe: the
// gapless length to the millisecond, rate, channels, the frames' mean bit rate. A source the index refuses
// (bytes after its last frame that are no tag) is probed as before.
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';
import type { AudioProbe } from '../../../src/media/ffmpeg.js';
import { createFrameIndexes } from '../../../src/render/frame-indexes.js';
import { createCatalog } from '../../../src/sources/catalog.js';

const corpus = (name: string) => path.join(PROJECT_ROOT, 'fixtures', 'corpus', name);
let root: string;
const probed: string[] = [];
const probe = async (file: string): Promise<AudioProbe> => {
  probed.push(path.basename(file));
  return { formatName: 'mp3', codecName: 'mp3', durationSeconds: 7.5, sampleRate: 44_100, channels: 2, bitRate: 96_000 };
};

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'catalog-index-'));
  await copyFile(corpus('mpeg2-22k-64-stereo.mp3'), path.join(root, 'indexed.mp3'));
  await copyFile(corpus('vbr-8k-q9-mono.mp3'), path.join(root, 'mono.mp3'));
  const bytes = await readFile(corpus('cbr-44k-96-joint.mp3'));
  await writeFile(path.join(root, 'refused.mp3'), Buffer.concat([bytes, Buffer.alloc(64, 0x5a)]));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a catalog with frame indexes', () => {
  it('describes indexed sources from their index and records it; probes only the refused one', async () => {
    const records = path.join(root, 'indexes');
    const catalog = await createCatalog({ mediaRoot: root, probe, frameIndexes: createFrameIndexes({ maxBytes: 0, dir: records }) });
    // 8 s encoded at 22.05 kHz: the gapless length to the millisecond (ffprobe says 8.071837).
    expect(await catalog.describe(['indexed'])).toMatchObject({ durationMs: 8_000, sampleRate: 22_050, channels: 2 });
    const indexed = await catalog.describe(['indexed']);
    expect(Math.abs(indexed.bitRate - 64_000)).toBeLessThan(1_000);
    expect(await catalog.describe(['mono'])).toMatchObject({ durationMs: 8_000, sampleRate: 8_000, channels: 1 });
    expect(probed).toEqual([]);
    expect((await catalog.describe(['refused'])).bitRate).toBe(96_000); // the probe's figure
    expect(probed).toEqual(['refused.mp3']);
    // Three records: two indexes and the refusal, so no process walks these files again.
    expect((await readdir(records)).filter((name) => name.endsWith('.idx'))).toHaveLength(3);
  });
});
