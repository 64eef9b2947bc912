// Where a render's bytes come from: memory when hot, else the store's file (copied into memory when it fits,
// streamed when it does not), on a real store folder. The memory copy is bounded in bytes.
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHotRenders } from '../../../src/store/hot-renders.js';
import { createRenderReader, type RenderBody } from '../../../src/store/render-reader.js';
import { createRenderStore, type RenderStore } from '../../../src/store/render-store.js';

let dir: string;
let store: RenderStore;
const small = 'ab'.repeat(16);
const large = 'cd'.repeat(16);
// Whole seconds: a file system keeps nanoseconds, and a millisecond time read back as mtimeMs can come out
// a float hair away (1795558573846.999 for ...847 failed CI), so only a whole second compares exactly.
const longAgo = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);

async function put(key: string, bytes: Buffer) {
  const temp = await store.tempPathFor(key);
  await writeFile(temp, bytes);
  await store.publish(temp, {
    key,
    source: 'demo/tones',
    startMs: 0,
    endMs: 1000,
    mode: 'copy',
    bytes: bytes.length,
    durationSeconds: 1,
    renderedAt: longAgo.toISOString(),
  });
}

async function bytesOf(body: RenderBody, start = 0, end = body.size - 1): Promise<Buffer> {
  const slice = body.slice(start, end);
  if (Buffer.isBuffer(slice)) return slice;
  const chunks: Buffer[] = [];
  for await (const chunk of slice as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'render-reader-'));
  store = createRenderStore({ dir });
  await put(small, Buffer.from('0123456789'));
  await put(large, Buffer.alloc(100, 7));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('render reader', () => {
  it('reads a render that fits from the store once, then answers it from memory even after the file is gone', async () => {
    const reader = createRenderReader({ store, hot: createHotRenders({ maxBytes: 50, maxEntryBytes: 20, storeTouchEveryMs: 60_000 }) });
    const first = await reader.open(small);
    expect(first?.readsStoreFile).toBe(false);
    expect(first?.origin).toBe('store');
    expect((await bytesOf(first!)).toString()).toBe('0123456789');
    await rm(store.pathOf(small));
    const again = await reader.open(small);
    expect(again?.origin).toBe('memory');
    expect(again?.size).toBe(10);
    expect((await bytesOf(again!, 2, 4)).toString()).toBe('234');
    await put(small, Buffer.from('0123456789'));
  });

  it('streams a render larger than the per-render limit from the store, and keeps no copy of it', async () => {
    const hot = createHotRenders({ maxBytes: 50, maxEntryBytes: 20, storeTouchEveryMs: 60_000 });
    const reader = createRenderReader({ store, hot });
    const body = await reader.open(large);
    expect(body?.readsStoreFile).toBe(true);
    expect(await bytesOf(body!, 90, 99)).toEqual(Buffer.alloc(10, 7));
    expect(hot.bytes).toBe(0);
  });

  it('for an answer nginx sends (head only), reads the head from the file and keeps no copy; a hot render stays in memory', async () => {
    const hot = createHotRenders({ maxBytes: 50, maxEntryBytes: 20, storeTouchEveryMs: 60_000 });
    const reader = createRenderReader({ store, hot });
    const body = await reader.open(small, { headOnly: true });
    expect(body?.readsStoreFile).toBe(true);
    expect((await body!.head()).toString()).toBe('0123456789');
    await body!.release();
    expect(hot.bytes).toBe(0);
    expect(await reader.open('ef'.repeat(16), { headOnly: true })).toBeNull();
    // Once hot (asked without headOnly), a head-only ask is answered from memory: no file is opened.
    await (await reader.open(small))!.release();
    expect((await reader.open(small, { headOnly: true }))?.origin).toBe('memory');
  });

  it('answers null for a render the store does not have', async () => {
    const reader = createRenderReader({ store, hot: createHotRenders({ maxBytes: 50, maxEntryBytes: 20, storeTouchEveryMs: 0 }) });
    expect(await reader.open('ef'.repeat(16))).toBeNull();
  });

  it('keeps no more bytes than its budget, dropping the least recently used', () => {
    const hot = createHotRenders({ maxBytes: 25, maxEntryBytes: 10, storeTouchEveryMs: 0 });
    const [a, b, c] = [Buffer.alloc(10, 1), Buffer.alloc(10, 2), Buffer.alloc(10, 3)];
    hot.remember('a', a);
    hot.remember('b', b);
    hot.get('a');
    hot.remember('c', c);
    expect(hot.bytes).toBe(20);
    expect(hot.get('a')?.bytes).toBe(a);
    expect(hot.get('b')).toBeUndefined();
    expect(hot.get('c')?.bytes).toBe(c);
    hot.remember('d', Buffer.alloc(11));
    expect(hot.get('d')).toBeUndefined();
    expect(hot.bytes).toBe(20);
  });

  it('a budget of 0 keeps nothing, so every hit reads the store', async () => {
    const hot = createHotRenders({ maxBytes: 0, maxEntryBytes: 0, storeTouchEveryMs: 0 });
    const body = await createRenderReader({ store, hot }).open(small);
    expect(body?.readsStoreFile).toBe(true);
    await body!.release();
    expect(hot.get(small)).toBeUndefined();
  });

  it('marks the store copy of a memory-hot render as used, at most once per interval', async () => {
    let clock = 0;
    const hot = createHotRenders({ maxBytes: 50, maxEntryBytes: 20, storeTouchEveryMs: 1_000, now: () => clock });
    const reader = createRenderReader({ store, hot });
    await reader.open(small);
    await utimes(store.pathOf(small), longAgo, longAgo);
    clock = 500;
    await reader.open(small);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await stat(store.pathOf(small))).mtimeMs).toBe(longAgo.getTime());
    clock = 1_500;
    await reader.open(small);
    for (let tries = 0; tries < 100 && (await stat(store.pathOf(small))).mtimeMs === longAgo.getTime(); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await stat(store.pathOf(small))).mtimeMs).toBeGreaterThan(longAgo.getTime());
    expect((await readFile(store.pathOf(small))).toString()).toBe('0123456789');
  });

  it('reads a render asked for by many requests at once from the store once, and hands them all the same bytes', async () => {
    const hot = createHotRenders({ maxBytes: 50, maxEntryBytes: 20, storeTouchEveryMs: 60_000 });
    let opens = 0;
    const reader = createRenderReader({
      store: {
        open: (key) => {
          opens += 1;
          return store.open(key);
        },
        touch: (key) => store.touch(key),
      },
      hot,
    });
    const bodies = await Promise.all(Array.from({ length: 5 }, () => reader.open(small)));
    expect(opens).toBe(1);
    const first = bodies[0]!.slice(0, 9) as Buffer;
    for (const body of bodies) expect((body!.slice(0, 9) as Buffer).buffer).toBe(first.buffer);
    expect(first.toString()).toBe('0123456789');
  });

  it('streams a render too large to keep to each of many requests at once, each from its own file handle', async () => {
    const hot = createHotRenders({ maxBytes: 50, maxEntryBytes: 20, storeTouchEveryMs: 60_000 });
    const reader = createRenderReader({ store, hot });
    const bodies = await Promise.all(Array.from({ length: 3 }, () => reader.open(large)));
    for (const body of bodies) expect(await bytesOf(body!, 0, 99)).toEqual(Buffer.alloc(100, 7));
  });
});
