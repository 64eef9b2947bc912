import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRenderStore, type RenderMetadata, type RenderStore } from '../../../src/store/render-store.js';

let dir: string;
let store: RenderStore;
const key = 'b'.repeat(32);
const metadata: RenderMetadata = {
  key,
  source: 'demo/tones',
  startMs: 0,
  endMs: 1000,
  mode: 'copy',
  options: { mode: 'copy' },
  bytes: 5,
  durationSeconds: 1,
  renderedAt: '2026-01-01T00:00:00.000Z',
};

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'render-metadata-'));
  store = createRenderStore({ dir });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('store.metadata (what GET /renders/{id} reads for a done render)', () => {
  it('gives the facts published beside a render', async () => {
    const temp = await store.tempPathFor(key);
    await writeFile(temp, 'audio');
    await store.publish(temp, metadata);
    expect(await store.metadata(key)).toEqual(metadata);
  });

  it('is null for a key never published, and once the render is removed', async () => {
    expect(await store.metadata(key)).toBeNull();
    const temp = await store.tempPathFor(key);
    await writeFile(temp, 'audio');
    await store.publish(temp, metadata);
    await store.remove(key);
    expect(await store.metadata(key)).toBeNull();
  });
});
