// Disk: the render store keeps to STORE_MAX_BYTES by removing the least recently used renders, never one
// being streamed or written; a full disk during a render fails that job cleanly (its streamed answer cut
// short, or a 503 when no byte could be written; no partial file) and the service renders again once
// there is room. The full disk is real: a small tmpfs mounted as the store.
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeDir } from '../../src/data-layout.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import { eventually, getBytes, getMaybeCut, rendersTotal, startTestStack, type TestStack } from '../helpers/test-stack.js';

const MiB = 1024 * 1024;
/** About 400 KB each: 10 s re-encoded at 320 kbps. */
const bigSegment = (start: number) => `/segments/demo/tones/${start}-${start + 10}.mp3?mode=exact&bitrate=320`;
const keyOf = (response: Response) => (response.headers.get('etag') ?? '').replaceAll('"', '');

/** Render keys in the store and their total size, read from the folder itself. */
async function storeContents(t: TestStack): Promise<{ keys: Set<string>; bytes: number }> {
  const dir = storeDir(t.config.dataDir);
  const keys = new Set<string>();
  let bytes = 0;
  for (const shard of (await readdir(dir)).filter((name) => /^[0-9a-f]{2}$/.test(name))) {
    for (const name of (await readdir(path.join(dir, shard))).filter((file) => file.endsWith('.mp3'))) {
      keys.add(name.slice(0, -4));
      bytes += (await stat(path.join(dir, shard, name))).size;
    }
  }
  return { keys, bytes };
}

describe('the store budget (STORE_MAX_BYTES)', () => {
  // Longer than three renders one after another on a loaded machine: the first must still be in its grace
  // when the third is published.
  const GRACE_MS = 5_000;
  let t: TestStack;
  beforeAll(async () => {
    // No memory copy (HOT_CACHE_MAX_BYTES=0): a render removed from the store must be rendered again here,
    // where the API's memory would otherwise still answer it.
    t = await startTestStack(
      { WORKERS: '1', STORE_MAX_BYTES: String(MiB), STORE_EVICT_GRACE_MS: String(GRACE_MS), HOT_CACHE_MAX_BYTES: '0' },
      { longSource: 'long/hour' },
    );
  });
  afterAll(async () => {
    await t?.stop();
  });

  /** Resolves once every render in the store is past its grace, unless it is marked again meanwhile. */
  const graceOver = () => {
    const since = Date.now();
    return eventually(async () => (Date.now() - since > GRACE_MS + 100 ? true : undefined), 'the grace period to pass');
  };

  it('past its budget, the least recently used renders are removed; a removed render is rendered again with the same bytes', async () => {
    const first = await Promise.all([0, 10, 20].map(async (start) => getBytes(t.apiUrl + bigSegment(start))));
    const [r0, r1, r2] = first.map(({ response }) => keyOf(response));
    // 1.2 MB now, over the 1 MiB budget, but every render is still within its grace: none removed.
    expect((await storeContents(t)).keys).toEqual(new Set([r0, r1, r2]));
    await graceOver();
    // A store hit marks r0 as used: r1, then r2, are now the least recently used.
    expect((await getBytes(t.apiUrl + bigSegment(0))).response.status).toBe(200);
    const r3 = keyOf((await getBytes(t.apiUrl + bigSegment(30))).response);

    const after = await storeContents(t);
    expect(after.keys).toEqual(new Set([r0, r3]));
    expect(after.bytes).toBeLessThanOrEqual(MiB);
    const renders = await rendersTotal(t.apiUrl);
    const again = await getBytes(t.apiUrl + bigSegment(10));
    expect(again.response.status).toBe(200);
    expect(keyOf(again.response)).toBe(r1);
    expect(again.body.equals(first[1]!.body)).toBe(true);
    expect(await rendersTotal(t.apiUrl)).toBe(renders + 1);
    console.log(
      `store budget: 1 MiB; after 5 renders of ~${Math.round(first[0]!.body.length / 1024)} KB the store holds ${(after.bytes / 1024).toFixed(0)} KB (${after.keys.size} renders)`,
    );
  });

  it('a render being streamed is never removed, however long the stream, and the stream is whole', async () => {
    // 57 MB (an hour, frames copied): far more than the budget, and more than the socket buffers can hold,
    // so a reader that stops keeps the API's stream open on the file.
    const path0 = '/segments/long/hour/0-3600.mp3';
    const whole = await getBytes(t.apiUrl + path0);
    const streamed = keyOf(whole.response);
    // A reader that takes the first bytes, then stops reading: the API's stream stays open on the render.
    const { hostname, port } = new URL(t.apiUrl);
    const chunks: Buffer[] = [];
    let response!: http.IncomingMessage;
    const request = http.get({ hostname, port, path: path0 });
    await new Promise<void>((resolve, reject) => {
      request.on('error', reject);
      request.on('response', (res) => {
        response = res;
        res.once('data', (chunk: Buffer) => {
          chunks.push(chunk);
          res.pause();
          resolve();
        });
      });
    });
    // Two grace periods pass and two more renders push the store over budget: anything not in use would go.
    for (const start of [50, 60]) {
      await graceOver();
      await getBytes(t.apiUrl + bigSegment(start));
    }
    expect((await storeContents(t)).keys.has(streamed)).toBe(true);
    expect((await storeContents(t)).bytes).toBeGreaterThan(0);

    const body = await new Promise<Buffer>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', reject);
      response.resume();
    });
    expect(body.equals(whole.body)).toBe(true);
  });
});

describe('a full disk during a render', () => {
  let t: TestStack;
  let root: string;
  let store: string;
  const filler = () => path.join(store, 'filler');

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-fulldisk-'));
    // nginx runs as 'nobody' and must reach DATA_DIR below it (mkdtemp makes it 0700).
    await chmod(root, 0o755);
    store = storeDir(path.join(root, 'data'));
    await mkdir(store, { recursive: true });
    // A real, small filesystem for the store (and its temp files): root may mount tmpfs on Linux.
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0755', 'tmpfs', store], { encoding: 'utf8' });
    if (mounted.status !== 0)
      throw new Error(`this test mounts a 3 MB tmpfs as the store and needs root: mount said ${mounted.stderr.trim()}`);
    t = await startTestStack({ WORKERS: '1', DATA_DIR: path.join(root, 'data') });
  });
  afterAll(async () => {
    await t?.stop();
    if (store) spawnSync('umount', [store]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('a render that fills the disk midway ends its streamed answer short of its length (never whole, never cached), fails the job, leaves no partial file, and the worker lives on', async () => {
    const free = await statfs(store).then((facts) => facts.bavail * facts.bsize);
    await writeFile(filler(), Buffer.alloc(free - MiB));
    // A 2.4 MB render: its first MiB is streamed as it is written (the answer states the whole length; the
    // API follows the file within tens of milliseconds, the disk fills after about half a second), then the
    // disk is full.
    const answer = await getMaybeCut(`${t.url}/segments/demo/tones/0-60.mp3?mode=exact&bitrate=320`);
    expect(answer.status).toBe(200);
    expect(Number(answer.headers['content-length'])).toBeGreaterThan(2 * MiB);
    expect(answer.whole).toBe(false);
    expect(answer.body.length).toBeLessThan(Number(answer.headers['content-length']));
    expect(await readdir(path.join(store, '.tmp'))).toEqual([]);
    expect((await storeContents(t)).keys.size).toBe(0);
    expect(t.stack.workers.restarts).toBe(0);
    // The worker's log arrives through its own pipe, possibly a moment after the answer.
    expect(
      await eventually(
        async () => t.logs.find((line) => line.includes('the render store is out of disk space')),
        "the worker's out-of-space line",
      ),
    ).toMatch(/^worker(-\d+)?: /);
    // nginx kept nothing of the cut answer: the same URL is asked upstream again.
    // Full again: as much as was free at first, or up to ENOSPC (index records beside the store took a little).
    await writeFile(filler(), Buffer.alloc(free)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOSPC') throw error;
    });
    const again = await getBytes(`${t.url}/segments/demo/tones/0-60.mp3?mode=exact&bitrate=320`);
    expect(again.response.headers.get('x-cache-status')).not.toBe('HIT');
  });

  it('with no room for a first byte, the request gets 503 + Retry-After saying why', async () => {
    const { response, body } = await getBytes(t.url + bigSegment(20));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(body.toString()).detail).toBe('The render store is out of disk space; retry later.');
    expect(await readdir(path.join(store, '.tmp'))).toEqual([]);
  });

  it('renders again once there is room', async () => {
    await rm(filler());
    const { response, body } = await getBytes(t.url + bigSegment(0));
    expect(response.status).toBe(200);
    expect(Math.abs(readMp3(body).durationSeconds - 10)).toBeLessThanOrEqual(0.002);
  });
});
