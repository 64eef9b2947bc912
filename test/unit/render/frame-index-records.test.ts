// Frame indexes recorded on disk beside the store: the record round-trips, is found by a second process's
// indexes (no walk: a source changed behind an unchanged size and mtime still gets the recorded index),
// and a damaged, stale or foreign record is rebuilt.
import { copyFile, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyOfCorpus, corpusFile } from '../../helpers/corpus-copy.js';
import { PROJECT_ROOT } from '../../../src/config.js';
import { readFrameIndex } from '../../../src/media/frame-index.js';
import { decodeFrameIndex, encodeFrameIndex } from '../../../src/media/frame-index-file.js';
import type { SourceFile } from '../../../src/media/source-file.js';
import { createFrameIndexes } from '../../../src/render/frame-indexes.js';

const corpus = corpusFile;
let dir: string;
let records: string;

const sourceAt = (name: string, from: string): Promise<SourceFile> => copyOfCorpus(dir, name, from);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'frame-index-records-'));
  records = path.join(dir, 'indexes');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('frame index records', () => {
  it('round-trip every clean corpus source, and a source without an index', async () => {
    for (const name of (await readdir(path.join(PROJECT_ROOT, 'fixtures', 'corpus'))).filter((n) => n.endsWith('.mp3'))) {
      const index = await readFrameIndex(corpus(name));
      const version = { size: index!.fileBytes, mtimeMs: 1_700_000_000_123 };
      expect(decodeFrameIndex(encodeFrameIndex(index, version), version), name).toEqual(index);
    }
    expect(decodeFrameIndex(encodeFrameIndex(null, { size: 10, mtimeMs: 5 }), { size: 10, mtimeMs: 5 })).toBeNull();
  });

  it('read as absent when damaged, of another version of the source, or not a record', async () => {
    const index = await readFrameIndex(corpus('vbr-44k-q4-joint.mp3'));
    const version = { size: 123, mtimeMs: 456 };
    const record = encodeFrameIndex(index, version);
    const flipped = Buffer.from(record);
    flipped[100] = flipped[100]! ^ 0x01;
    expect(decodeFrameIndex(flipped, version)).toBeUndefined();
    expect(decodeFrameIndex(record, { size: 123, mtimeMs: 457 })).toBeUndefined();
    expect(decodeFrameIndex(record.subarray(0, record.length - 2), version)).toBeUndefined();
    expect(decodeFrameIndex(Buffer.from('not a record at all, but long enough'), version)).toBeUndefined();
  });

  it('are written once and used by another process’s indexes instead of a walk', async () => {
    const source = await sourceAt('shared.mp3', 'cbr-44k-128-stereo.mp3');
    const built = await createFrameIndexes({ maxBytes: 1 << 20, dir: records }).indexFor(source);
    expect((await readdir(records)).filter((name) => name.endsWith('.idx'))).toHaveLength(1);
    // The file's bytes change but not its size or mtime: only the record can give the old index now.
    const other = await readFile(corpus('vbr-44k-q4-joint.mp3'));
    const bytes = Buffer.alloc(source.size, 0);
    other.copy(bytes, 0, 0, Math.min(other.length, bytes.length));
    await writeFile(source.file, bytes);
    await utimes(source.file, source.mtimeMs / 1000, source.mtimeMs / 1000);
    expect(await createFrameIndexes({ maxBytes: 1 << 20, dir: records }).indexFor(source)).toEqual(built);
    // Without the record, a walk of the changed bytes: proof the equality above came from the record.
    expect(await createFrameIndexes({ maxBytes: 1 << 20 }).indexFor(source)).not.toEqual(built);
  });

  it('are rebuilt when damaged, and when the source is replaced', async () => {
    const source = await sourceAt('rebuilt.mp3', 'mpeg2-22k-64-stereo.mp3');
    await createFrameIndexes({ maxBytes: 1 << 20, dir: records }).indexFor(source);
    const names = async () => (await readdir(records)).filter((name) => name.endsWith('.idx')).sort();
    /** The records that hold an index for this version of the source. */
    const holding = async (version: SourceFile) => {
      const found = [];
      for (const name of await names()) {
        const stored = decodeFrameIndex(await readFile(path.join(records, name)), version);
        if (stored !== undefined) found.push(stored);
      }
      return found;
    };
    const before = await names();
    for (const name of before) await writeFile(path.join(records, name), Buffer.from('damaged'));
    const again = await createFrameIndexes({ maxBytes: 1 << 20, dir: records }).indexFor(source);
    expect(again).toEqual(await readFrameIndex(source.file));
    expect(await holding(source)).toEqual([again]);
    // Replaced by another file at the same path: a new size, hence a new index, written over its record.
    await copyFile(corpus('mpeg25-8k-8-mono.mp3'), source.file);
    const facts = await stat(source.file);
    const replaced = { file: source.file, size: facts.size, mtimeMs: Math.trunc(facts.mtimeMs) };
    const index = await createFrameIndexes({ maxBytes: 1 << 20, dir: records }).indexFor(replaced);
    expect(index?.sampleRate).toBe(8_000);
    expect(await holding(replaced)).toEqual([index]);
    expect(await names()).toEqual(before);
  });
});
