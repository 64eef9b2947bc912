// A worker's handling of one render job (src/use-cases/process-render-job.ts), called with a plain job object
// over the real pieces: a temp store and media root, a real Redis (a private redis-server for this file),
// real ffmpeg. What it publishes, when it runs no ffmpeg, and how a failure is recorded and thrown.
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';
import { createMediaTools, type MediaTools } from '../../../src/media/ffmpeg.js';
import { createFailureMemory, type FailureMemory } from '../../../src/queue/failure-memory.js';
import { createBackgroundLane } from '../../../src/queue/background-lane.js';
import { createRenderStreams } from '../../../src/queue/render-streams.js';
import { createWaitingCount } from '../../../src/queue/waiting-count.js';
import { type RenderJob, renderJobFor } from '../../../src/queue/render-job.js';
import { createFrameIndexes } from '../../../src/render/frame-indexes.js';
import type { RenderFailure } from '../../../src/render/render-failure.js';
import type { RenderSpec } from '../../../src/render/render-spec.js';
import { renderKey, type SourceIdentity } from '../../../src/segments/render-key.js';
import { planSegment } from '../../../src/segments/segment-plan.js';
import { type Catalog, createCatalog } from '../../../src/sources/catalog.js';
import { realMediaRoot } from '../../../src/sources/resolve-source.js';
import { createRenderStore, type RenderStore } from '../../../src/store/render-store.js';
import { createStoreBudget } from '../../../src/store/store-budget.js';
import { createRenderJobProcessor, type RenderJobDeps, type RenderJobHandle } from '../../../src/use-cases/process-render-job.js';
import { readMp3 } from '../../helpers/mp3-frames.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let server: TestRedis;
let redis: Redis;
let media: MediaTools;
let mediaRoot: string;
let catalog: Catalog;

beforeAll(async () => {
  server = await startTestRedis();
  redis = new Redis(server.url);
  media = await createMediaTools();
  const root = path.join(server.dir, 'media');
  await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(root, 'demo'), { recursive: true });
  // The same audio under a name that URLs spell with percent-encoding.
  await copyFile(path.join(root, 'demo', 'tones.mp3'), path.join(root, 'demo', 'My Tones é.mp3'));
  await mkdir(path.join(root, 'bad'));
  await copyFile(path.join(PROJECT_ROOT, 'fixtures', 'corpus', 'broken', 'not-audio.mp3'), path.join(root, 'bad', 'not-audio.mp3'));
  // A real MP3 start (its Info header promises 90 s) followed by bytes that are no audio: ffmpeg writes a
  // file, which the output check then refuses.
  const tones = await readFile(path.join(root, 'demo', 'tones.mp3'));
  await writeFile(
    path.join(root, 'bad', 'damaged.mp3'),
    Buffer.concat([tones.subarray(0, 20_000), Buffer.alloc(tones.length - 20_000, 0x5a)]),
  );
  // Not audio, under a name that spells what ffmpeg says of passing faults.
  await copyFile(path.join(root, 'bad', 'not-audio.mp3'), path.join(root, 'bad', 'spawn EAGAIN received signal.mp3'));
  mediaRoot = await realMediaRoot(root);
  catalog = await createCatalog({ mediaRoot, probe: media.probe });
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

let store: RenderStore;
let failures: FailureMemory;
let processRenderJob: (job: RenderJobHandle) => Promise<unknown>;

beforeEach(async () => {
  await redis.flushall();
  store = createRenderStore({ dir: await mkdtemp(path.join(server.dir, 'store-')) });
  failures = createFailureMemory(redis);
  processRenderJob = createRenderJobProcessor(deps());
});

/** The processor's real pieces, over this test's Redis, store and media root. */
function deps(): RenderJobDeps {
  return {
    media,
    renderTimeoutMs: 60_000,
    frameIndexes: createFrameIndexes({ maxBytes: 16 * 1024 * 1024 }),
    store,
    budget: createStoreBudget({ store, redis, maxBytes: 1024 ** 3, graceMs: 60_000 }),
    failures,
    waitingCount: createWaitingCount(redis),
    streams: createRenderStreams(redis),
    backgroundLane: createBackgroundLane(redis, { maxAgeMs: 3_600_000 }),
    mediaRoot,
    redis,
    logger: pino({ level: 'silent' }),
  };
}

/** The job the API would queue for a copy of `source` from `startS` to `endS` seconds. */
async function copyJob(source: string[], startS: number, endS: number): Promise<RenderJob> {
  const facts = await catalog.describe(source);
  const plan = planSegment({ source, startMs: startS * 1000, endMs: endS * 1000, options: { mode: 'copy' }, download: false }, facts, {
    maxSegmentSeconds: 3_600,
  });
  return renderJobFor(plan, 'test-request');
}

/** A plain job object, as the processor may be handed; `progress` collects what it reports. */
function handle(data: RenderJob): RenderJobHandle & { progress: unknown[] } {
  const progress: unknown[] = [];
  return {
    id: data.key,
    data,
    attemptsMade: 0,
    progress,
    updateProgress: async (value: unknown) => {
      progress.push(value);
    },
  } as RenderJobHandle & { progress: unknown[] };
}

/** Every file below the store's folder (renders, their facts, temp files), relative to it. */
async function storeFiles(): Promise<string[]> {
  const entries = await readdir(store.dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(store.dir, path.join(entry.parentPath, entry.name)));
}

/** The rejection of `promise`, which must reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => null,
    (error: Error) => error,
  );
  if (!outcome) throw new Error('expected the job to fail');
  return outcome;
}

/** The message a client may see: one plain sentence, no structure, no path, no stderr. */
function expectPlainDetail(message: string) {
  expect(() => JSON.parse(message)).toThrow();
  expect(message).not.toMatch(/[{}\n]/);
  expect(message).not.toContain(mediaRoot);
  expect(message).not.toContain(store.dir);
}

describe('processing a render job', () => {
  it('renders a copy and publishes it with its facts, the source named as URLs spell it', async () => {
    const job = await copyJob(['demo', 'My Tones é'], 10, 20);
    const result = await processRenderJob(handle(job));

    const stored = await readFile(store.pathOf(job.key));
    expect(result).toEqual({ rendered: true, bytes: stored.length, mode: 'copy', renderMs: expect.any(Number) });
    expect(Math.abs(readMp3(stored).rawDurationSeconds - 10)).toBeLessThan(0.1);
    expect(await store.metadata(job.key)).toMatchObject({
      key: job.key,
      source: 'demo/My%20Tones%20%C3%A9',
      startMs: 10_000,
      endMs: 20_000,
      mode: 'copy',
      options: { mode: 'copy' },
      bytes: stored.length,
    });
    expect(await storeFiles()).toEqual(
      expect.arrayContaining([path.join(job.key.slice(0, 2), `${job.key}.mp3`), path.join(job.key.slice(0, 2), `${job.key}.json`)]),
    );
    expect(await storeFiles()).toHaveLength(2);
  });

  it('names the file it writes to Redis, and ends that name, only for an exact render: a copy owes Redis neither', async () => {
    const said: string[] = [];
    const real = createRenderStreams(redis);
    // The real streams, with what the worker says to them written down.
    const processor = createRenderJobProcessor({
      ...deps(),
      streams: {
        announce: async (key, fileName, ttlMs) => {
          said.push(`announce ${key} ${fileName}`);
          await real.announce(key, fileName, ttlMs);
        },
        ended: async (key, fileName) => {
          said.push(`ended ${key} ${fileName}`);
          await real.ended(key, fileName);
        },
      },
    });
    const copy = await copyJob(['demo', 'tones'], 10, 12);
    const exactSpec: RenderSpec = { ...copy.spec, options: { mode: 'exact', bitrateKbps: 64, channels: null, fadeInMs: 0, fadeOutMs: 0 } };
    const exact: RenderJob = { ...copy, spec: exactSpec, key: renderKey(copy.source, exactSpec) };

    await processor(handle(copy));
    expect(said).toEqual([]);

    const exact$ = handle(exact);
    await processor(exact$);
    expect(said).toEqual([
      expect.stringMatching(new RegExp(`^announce ${exact.key} `)),
      expect.stringMatching(new RegExp(`^ended ${exact.key} `)),
    ]);
    expect(said[1]!.split(' ')[2]).toBe(said[0]!.split(' ')[2]);
    expect(exact$.progress[0]).toBe(0);
    expect(await real.fileOf(exact.key)).toBeNull();
  });

  it("names a plain source's path as it is ('demo/tones')", async () => {
    const job = await copyJob(['demo', 'tones'], 0, 5);
    await processRenderJob(handle(job));
    expect((await store.metadata(job.key))?.source).toBe('demo/tones');
  });

  it('returns rendered: false for a key already in the store, and runs no ffmpeg', async () => {
    const job = await copyJob(['demo', 'tones'], 30, 40);
    // Bytes no render would make: if ffmpeg ran and published, they would be replaced.
    const placeholder = Buffer.from('already stored, by an earlier job');
    const temp = await store.tempPathFor(job.key);
    await writeFile(temp, placeholder);
    await store.publish(temp, {
      key: job.key,
      source: 'demo/tones',
      startMs: 30_000,
      endMs: 40_000,
      mode: 'copy',
      bytes: placeholder.length,
      durationSeconds: 10,
      renderedAt: new Date().toISOString(),
    });
    const inode = (await stat(store.pathOf(job.key))).ino;
    const job$ = handle(job);

    expect(await processRenderJob(job$)).toEqual({ rendered: false, bytes: placeholder.length });
    expect((await readFile(store.pathOf(job.key))).equals(placeholder)).toBe(true);
    expect((await stat(store.pathOf(job.key))).ino).toBe(inode);
    expect(job$.progress).toEqual([]);
  });

  it("fails for good (UnrecoverableError) when the source's size or mtime differ from the job's, remembering a 503", async () => {
    const job = await copyJob(['demo', 'tones'], 10, 20);
    const changed: RenderJob = { ...job, source: { ...job.source, size: job.source.size + 1 } };

    const error = await rejectionOf(processRenderJob(handle(changed)));

    expect(error).toBeInstanceOf(UnrecoverableError);
    const recorded = await failures.permanent(job.key);
    expect(recorded).toEqual({ status: 503, detail: expect.stringMatching(/changed/), permanent: true });
    expect(error.message).toBe(recorded?.detail);
    expectPlainDetail(error.message);
    expect(await store.has(job.key)).toBe(false);
  });

  it('refuses at once a key that failed for good a moment ago, with the same detail and without ffmpeg or a new record', async () => {
    const job = await copyJob(['demo', 'tones'], 50, 60);
    const failure: RenderFailure = { status: 422, detail: 'This source cannot be cut there.', permanent: true };
    await failures.record(job.key, failure);
    // The record must expire on its own: a refusal must not write it again (and so reset its time).
    const recordName = `mp3-segments:failed:${job.key}`;
    expect(await redis.keys(`*${job.key}*`)).toEqual([recordName]);
    await redis.expire(recordName, 100);
    const job$ = handle(job);

    const error = await rejectionOf(processRenderJob(job$));

    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe(failure.detail);
    expect(await failures.permanent(job.key)).toEqual(failure);
    expect(await redis.ttl(recordName)).toBeLessThanOrEqual(100);
    // A render would have reported progress, left a file in the store, or published.
    expect(job$.progress).toEqual([]);
    expect(await storeFiles()).toEqual([]);
  });

  // The second name spells what ffmpeg says of passing faults (issue 14): its bytes alone decide.
  for (const name of ['not-audio', 'spawn EAGAIN received signal']) {
    it(`fails an unreadable source ('${name}') for good with a 422 recorded, a plain public message, and no file left in the store`, async () => {
      const facts = await stat(path.join(mediaRoot, 'bad', `${name}.mp3`));
      const source: SourceIdentity = { path: ['bad', name], size: facts.size, mtimeMs: Math.trunc(facts.mtimeMs) };
      const spec: RenderSpec = { startMs: 0, endMs: 2_000, options: { mode: 'copy' }, sampleRate: 44_100 };
      const key = renderKey(source, spec);

      const error = await rejectionOf(processRenderJob(handle({ key, source, spec, requestId: 'test-request' })));

      expect(error).toBeInstanceOf(UnrecoverableError);
      const recorded = await failures.permanent(key);
      expect(recorded).toMatchObject({ status: 422, permanent: true });
      expect(error.message).toBe(recorded?.detail);
      expectPlainDetail(error.message);
      expect(await storeFiles()).toEqual([]);
    });
  }

  it('fails a source that cannot be cut there for good with a 422 recorded, and leaves no temp file in the store', async () => {
    const job = await copyJob(['bad', 'damaged'], 30, 40);

    const error = await rejectionOf(processRenderJob(handle(job)));

    expect(error).toBeInstanceOf(UnrecoverableError);
    const recorded = await failures.permanent(job.key);
    expect(recorded).toMatchObject({ status: 422, permanent: true });
    expect(error.message).toBe(recorded?.detail);
    expectPlainDetail(error.message);
    expect(await storeFiles()).toEqual([]);
  });
});

describe('a render whose temp folder cannot be written (a read-only file system: EROFS, which root gets too)', () => {
  // A real read-only file system as the store's temp folder: chmod does not stop root, a mount does.
  let tempDir: string;
  beforeEach(async () => {
    tempDir = path.join(store.dir, '.tmp');
    await mkdir(tempDir, { recursive: true });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', tempDir], { encoding: 'utf8' });
    if (mounted.status !== 0) throw new Error(`this test mounts a read-only tmpfs and needs root: mount said ${mounted.stderr.trim()}`);
    return () => void spawnSync('umount', [tempDir]);
  });

  for (const [what, source, mode] of [
    ['a copy made by ffmpeg (a source the frame index refuses)', ['bad', 'damaged'], 'copy'],
    ['a sample-exact copy (no ffmpeg)', ['demo', 'tones'], 'copy'],
    ['an exact render', ['demo', 'tones'], 'exact'],
  ] as const) {
    it(`${what} fails on a passing fault: retried (a plain Error), a 503 recorded, nothing remembered for good`, async () => {
      const job = await copyJob([...source], 10, 12);
      const exact: RenderSpec = { ...job.spec, options: { mode: 'exact', bitrateKbps: 64, channels: null, fadeInMs: 0, fadeOutMs: 0 } };
      const asked: RenderJob = mode === 'exact' ? { ...job, spec: exact, key: renderKey(job.source, exact) } : job;

      const error = await rejectionOf(processRenderJob(handle(asked)));

      expect(error).not.toBeInstanceOf(UnrecoverableError);
      expect(await failures.permanent(asked.key)).toBeNull();
      expect(await failures.failureOf(asked.key)).toMatchObject({ status: 503, permanent: false });
      expectPlainDetail(error.message);
    });
  }
});
