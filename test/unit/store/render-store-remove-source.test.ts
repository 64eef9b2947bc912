// The render store's removeSource (for `segments purge`): every render of one source, found by the
// metadata beside it, and nothing else, on a real temp folder.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRenderStore, type RenderStore } from '../../../src/store/render-store.js';

let dir: string;
let store: RenderStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-store-'));
  store = createRenderStore({ dir });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function publish(key: string, source: string, bytes: number) {
  const temp = await store.tempPathFor(key);
  await writeFile(temp, Buffer.alloc(bytes, 1));
  await store.publish(temp, {
    key,
    source,
    startMs: 0,
    endMs: 1000,
    mode: 'copy',
    bytes,
    durationSeconds: 1,
    renderedAt: new Date().toISOString(),
  });
}

describe('removeSource', () => {
  it('removes every render of the source (audio and metadata) and returns their count and bytes; others stay', async () => {
    await publish('a'.repeat(32), 'demo/tones', 100);
    await publish('b'.repeat(32), 'demo/tones', 50);
    await publish('c'.repeat(32), 'demo/tones2', 70);
    await publish('d'.repeat(32), 'My%20Show/ep%201', 10);
    expect(await store.removeSource('demo/tones')).toEqual({ removed: 2, bytes: 150 });
    expect((await store.list()).map((entry) => entry.key).sort()).toEqual(['c'.repeat(32), 'd'.repeat(32)]);
    expect(await store.removeSource('My%20Show/ep%201')).toEqual({ removed: 1, bytes: 10 });
    expect(await store.removeSource('demo/tones')).toEqual({ removed: 0, bytes: 0 });
  });

  it('tidies a metadata file left without its audio without counting it; an empty store removes nothing', async () => {
    await publish('e'.repeat(32), 'demo/tones', 100);
    await rm(store.pathOf('e'.repeat(32)));
    expect(await store.removeSource('demo/tones')).toEqual({ removed: 0, bytes: 0 });
    expect(await createRenderStore({ dir: path.join(dir, 'none') }).removeSource('demo/tones')).toEqual({ removed: 0, bytes: 0 });
  });
});
