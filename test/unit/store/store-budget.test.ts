// The store's size budget: which renders go (least recently used, never one in its grace), on a real store
// folder and a real Redis (a private redis-server for this file).
import { mkdtemp, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRenderStore, type RenderStore } from '../../../src/store/render-store.js';
import { chooseEvictions, createStoreBudget } from '../../../src/store/store-budget.js';
import { putRender, renderFacts } from '../../helpers/stored-render.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

const KiB = 1024;
const key = (n: number) => n.toString(16).padStart(32, '0');

describe('chooseEvictions', () => {
  const entries = [
    { key: key(1), bytes: 100, lastUsedMs: 3_000 },
    { key: key(2), bytes: 100, lastUsedMs: 1_000 },
    { key: key(3), bytes: 100, lastUsedMs: 2_000 },
    { key: key(4), bytes: 100, lastUsedMs: 9_000 },
  ];

  it('removes the least recently used first, until the rest fits the target', () => {
    const { doomed, remainingBytes } = chooseEvictions(entries, 250, 10_000);
    expect(doomed.map((entry) => entry.key)).toEqual([key(2), key(3)]);
    expect(remainingBytes).toBe(200);
  });

  it('removes nothing when the store already fits', () => {
    expect(chooseEvictions(entries, 400, 10_000).doomed).toEqual([]);
  });

  it('never removes a render used since the protection time, even if the store stays over its target', () => {
    const { doomed, remainingBytes } = chooseEvictions(entries, 0, 2_000);
    expect(doomed.map((entry) => entry.key)).toEqual([key(2)]);
    expect(remainingBytes).toBe(300);
  });
});

describe('the store budget on a real store and Redis', () => {
  let server: TestRedis;
  let redis: Redis;
  let store: RenderStore;

  beforeAll(async () => {
    server = await startTestRedis();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  beforeEach(async () => {
    await redis.flushall();
    store = createRenderStore({ dir: await mkdtemp(path.join(server.dir, 'store-')) });
  });

  /** Publishes a render of `bytes` last used at `usedAtMs`, the way a worker does. */
  async function put(n: number, bytes: number, usedAtMs: number): Promise<void> {
    await putRender(store, renderFacts(key(n), bytes, { renderedAt: new Date(usedAtMs).toISOString() }), Buffer.alloc(bytes, n));
    await utimes(store.pathOf(key(n)), new Date(usedAtMs), new Date(usedAtMs));
  }
  const keysLeft = async () => (await store.list()).map((entry) => entry.key).sort();

  it('past its budget, removes the least recently used renders (audio and facts) down to 90 % of it', async () => {
    const now = 1_000_000;
    const budget = createStoreBudget({ store, redis, maxBytes: 1_000 * KiB, graceMs: 60_000, now: () => now });
    for (let n = 1; n <= 5; n++) {
      await put(n, 250 * KiB, now - 600_000 + n * 1_000);
      const pass = await budget.published(250 * KiB);
      // The fifth pushes the store to 1250 KiB: the two oldest go, leaving 750 KiB ≤ 900 KiB.
      // No count in Redis yet: the first publish takes it from the disk (a pass that removes nothing).
      if (n === 1) expect(pass).toMatchObject({ removed: 0, totalBytes: 250 * KiB });
      else if (n < 5) expect(pass).toBeNull();
      else expect(pass).toEqual({ removed: 2, removedBytes: 500 * KiB, totalBytes: 750 * KiB, overBudgetBytes: 0 });
    }
    expect(await keysLeft()).toEqual([key(3), key(4), key(5)]);
    await expect(readFile(store.pathOf(key(1)).replace(/\.mp3$/, '.json'))).rejects.toThrow(/ENOENT/);
    expect(await budget.totalBytes()).toBe(750 * KiB);
  });

  it('opening a render marks it used, so an older one goes first', async () => {
    const budget = createStoreBudget({ store, redis, maxBytes: 1_000 * KiB, graceMs: 0 });
    const longAgo = Date.now() - 3_600_000;
    await put(1, 400 * KiB, longAgo);
    await put(2, 400 * KiB, longAgo + 1_000);
    const opened = await store.open(key(1));
    await opened?.handle.close();
    await put(3, 400 * KiB, Date.now());
    await budget.published(1_200 * KiB);
    expect(await keysLeft()).toEqual([key(1), key(3)]);
  });

  it('never removes a render used within the grace period, even over budget, and says by how much it is over', async () => {
    const now = 5_000_000;
    const budget = createStoreBudget({ store, redis, maxBytes: 1_000 * KiB, graceMs: 60_000, now: () => now });
    await put(1, 600 * KiB, now - 10_000);
    await put(2, 600 * KiB, now - 20_000);
    const pass = await budget.published(1_200 * KiB);
    expect(pass).toEqual({ removed: 0, removedBytes: 0, totalBytes: 1_200 * KiB, overBudgetBytes: 200 * KiB });
    expect(await keysLeft()).toEqual([key(1), key(2)]);
  });

  it('reconcile sets the counted total to what the store really holds (renders removed by hand, or never counted)', async () => {
    const budget = createStoreBudget({ store, redis, maxBytes: 10_000 * KiB, graceMs: 0 });
    await put(1, 100 * KiB, Date.now());
    await put(2, 200 * KiB, Date.now());
    await redis.set('mp3-segments:store_bytes', String(999 * KiB));
    expect(await budget.reconcile()).toMatchObject({ removed: 0, totalBytes: 300 * KiB });
    expect(await budget.totalBytes()).toBe(300 * KiB);
  });

  it("a count lost with Redis's data (FLUSHALL) is taken from the disk at the next publish, and the budget still holds", async () => {
    const budget = createStoreBudget({ store, redis, maxBytes: 1_000 * KiB, graceMs: 0 });
    const longAgo = Date.now() - 3_600_000;
    await put(1, 400 * KiB, longAgo);
    await budget.published(400 * KiB);
    await put(2, 400 * KiB, longAgo + 1_000);
    await budget.published(400 * KiB);
    await redis.flushall();
    // 1,200 KiB on disk: counting from 0 again would see 400 and leave the store past its budget.
    await put(3, 400 * KiB, Date.now());
    expect(await budget.published(400 * KiB)).toMatchObject({ removed: 1, totalBytes: 800 * KiB });
    expect(await keysLeft()).toEqual([key(2), key(3)]);
    expect(await budget.totalBytes()).toBe(800 * KiB);
  });

  it('knows the bytes on disk when its count is deleted, whether it is asked for the total or told of a removal', async () => {
    const budget = createStoreBudget({ store, redis, maxBytes: 10_000 * KiB, graceMs: 0 });
    await put(1, 100 * KiB, Date.now());
    await put(2, 200 * KiB, Date.now());
    await budget.published(300 * KiB);
    await redis.del('mp3-segments:store_bytes');
    expect(await budget.totalBytes()).toBe(300 * KiB);
    await redis.del('mp3-segments:store_bytes');
    // A purge removed a render meanwhile: the count is the disk's, not minus the purge.
    await store.remove(key(1));
    await budget.removed(100 * KiB);
    expect(await budget.totalBytes()).toBe(200 * KiB);
  });

  it('runs one pass at a time: a second pass while the first holds the lock does nothing', async () => {
    const budget = createStoreBudget({ store, redis, maxBytes: 10_000 * KiB, graceMs: 0 });
    const [first, second] = await Promise.all([budget.reconcile(), budget.reconcile()]);
    expect([first, second].filter((pass) => pass === null)).toHaveLength(1);
  });

  it('leaves temp files (renders being written) alone', async () => {
    const budget = createStoreBudget({ store, redis, maxBytes: 1_024 * KiB, graceMs: 0 });
    const temp = await store.tempPathFor(key(9));
    await writeFile(temp, Buffer.alloc(2_000 * KiB));
    expect(await budget.reconcile()).toMatchObject({ removed: 0, totalBytes: 0 });
    expect((await readFile(temp)).length).toBe(2_000 * KiB);
  });
});
