// Owns the render store: where a key's file lives, atomic and durable publishing (temp file in the store's
// own filesystem, flushed → rename, so a reader sees the whole file or none, even after a power loss),
// opening for reading (which marks the render as used: its mtime is its last use, and refuses a file
// shorter or longer than its facts say), listing and removing renders, and temp clean-up.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Stats } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { RENDER_KEY_PATTERN } from '../segments/render-key.js';
import type { RenderOptions } from '../render/render-spec.js';
import { flushToDisk, writeFlushed } from './durable-file.js';

export interface StoredRender {
  /** Open handle: the bytes stay readable even if the file is evicted while streaming. */
  handle: FileHandle;
  size: number;
}

/** Facts written beside each render, for operators and for purging a source's renders. */
export interface RenderMetadata {
  key: string;
  source: string;
  startMs: number;
  endMs: number;
  mode: string;
  /** The render's parameters, so its canonical URL can be written again (absent in renders from before). */
  options?: RenderOptions;
  bytes: number;
  durationSeconds: number;
  /** How a copy was cut: to the sample, or in whole frames (absent for exact renders and older copies). */
  cut?: 'sample' | 'frame';
  /** The fingerprint of the SIGNING_KEY its key was made under (url-signature.ts; absent in older renders). */
  signedWith?: string;
  renderedAt: string;
}

/** One render in the store, as eviction sees it. */
export interface StoredEntry {
  key: string;
  bytes: number;
  /** Last publish or open (the file's mtime). */
  lastUsedMs: number;
}

export interface RenderStore {
  readonly dir: string;
  pathOf(key: string): string;
  /** Whether a whole render is stored (one whose size is not its facts' is removed: a miss). */
  has(key: string): Promise<boolean>;
  /**
   * Opens for reading and marks the render as just used, so eviction takes it last. A file whose size is not
   * the one its facts state is never served: it is removed, and null says the render must be made again.
   */
  open(key: string): Promise<StoredRender | null>;
  /** Marks a render as used now (best effort: a render that cannot be marked is only evicted earlier). */
  touch(key: string): Promise<void>;
  /** The facts beside a complete render (its audio there too), or null. */
  metadata(key: string): Promise<RenderMetadata | null>;
  /** Every render in the store (temp files excluded). */
  list(): Promise<StoredEntry[]>;
  /** Removes a render (audio first: its presence is what marks a render as complete). */
  remove(key: string): Promise<void>;
  /**
   * Removes every render of one source (its canonical, percent-encoded path, as in the metadata's `source`),
   * found by the .json beside each render; returns how many and their audio bytes.
   */
  removeSource(source: string): Promise<{ removed: number; bytes: number }>;
  /**
   * A fresh temp path in the store's own folder, named <key>.<pid>.<host>.<random>.mp3: the pid and host let
   * a supervisor, or the next worker on that machine, clean up after a crash, even on a store shared by
   * several machines.
   */
  tempPathFor(key: string): Promise<string>;
  /**
   * The path of a temp file of this store named `name` (as tempPathFor made it, by any machine), for
   * following a render while it is written; null when `name` is not such a name.
   */
  tempFileNamed(name: string): string | null;
  publish(tempFile: string, metadata: RenderMetadata): Promise<void>;
  discard(tempFile: string): Promise<void>;
  /** Removes the temp files of a process of this machine that died. */
  removeTemps(pid: number): Promise<number>;
  /** Removes the temp files of every process of this machine that no longer runs (at a worker's start). */
  removeOrphanTemps(): Promise<number>;
}

const KEY_PATTERN = new RegExp(RENDER_KEY_PATTERN);
/** <key>.<pid>.<host>.<random>.mp3, as tempPathFor names them: nothing read from Redis leaves the temp folder. */
const TEMP_NAME_PATTERN = new RegExp(`${RENDER_KEY_PATTERN.slice(0, -1)}\\.\\d+\\.[A-Za-z0-9-]+\\.[0-9a-f]{8}\\.mp3$`);
const SHARD_PATTERN = /^[0-9a-f]{2}$/;
const TEMP_DIR = '.tmp';

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A stored file that was not the render its facts describe, removed when found. */
export interface DamagedRender {
  key: string;
  bytes: number;
  /** What its facts state; null when they are missing or unreadable. */
  expectedBytes: number | null;
}

/** Where a key's render lives under the store's folder, '/'-separated: how a front that serves the folder names it. */
export function storedFileName(key: string): string {
  if (!KEY_PATTERN.test(key)) throw new Error(`not a render key: ${key}`);
  return `${key.slice(0, 2)}/${key}.mp3`;
}

export function createRenderStore(options: { dir: string; host?: string; onDamaged?: (damaged: DamagedRender) => void }): RenderStore {
  const dir = path.resolve(options.dir);
  const tempDir = path.join(dir, TEMP_DIR);
  // A name part: no dots (they separate the parts), nothing a file name cannot hold.
  const host = (options.host ?? os.hostname()).replace(/[^A-Za-z0-9-]/g, '-');

  /** Temp files of this machine whose writer's pid passes `doomed`; returns how many were removed. */
  async function removeTempsOf(doomed: (pid: number) => boolean): Promise<number> {
    const names = await readdir(tempDir).catch(() => [] as string[]);
    const ours = names.filter((name) => {
      const [, pid, writerHost] = name.split('.');
      return writerHost === host && doomed(Number(pid));
    });
    await Promise.all(ours.map((name) => rm(path.join(tempDir, name), { force: true })));
    return ours.length;
  }

  function pathOf(key: string): string {
    return path.join(dir, storedFileName(key));
  }

  async function touch(key: string): Promise<void> {
    const now = new Date();
    await utimes(pathOf(key), now, now).catch(() => undefined);
  }

  /** The store's files with this extension, named by a render key, in every shard (temp files excluded). */
  async function storedFiles(extension: '.mp3' | '.json'): Promise<{ key: string; file: string }[]> {
    const found: { key: string; file: string }[] = [];
    const shards = (await readdir(dir).catch(() => [] as string[])).filter((name) => SHARD_PATTERN.test(name));
    for (const shard of shards) {
      for (const name of await readdir(path.join(dir, shard)).catch(() => [] as string[])) {
        const key = name.slice(0, -extension.length);
        if (name.endsWith(extension) && KEY_PATTERN.test(key)) found.push({ key, file: path.join(dir, shard, name) });
      }
    }
    return found;
  }

  /** Where a render's facts are kept: beside its audio. */
  const metadataPathOf = (key: string) => pathOf(key).replace(/\.mp3$/, '.json');

  /** Audio first: its presence is what marks a render as complete. */
  async function remove(key: string): Promise<void> {
    await rm(pathOf(key), { force: true });
    await rm(metadataPathOf(key), { force: true });
  }

  async function readMetadata(key: string): Promise<RenderMetadata | null> {
    try {
      return JSON.parse(await readFile(metadataPathOf(key), 'utf8')) as RenderMetadata;
    } catch {
      return null;
    }
  }

  /**
   * Whether the file found for `key` is the render its facts describe. A size that differs (a power loss
   * that kept a rename but not the bytes; a file cut short by hand) would be served for ever under a strong
   * ETag and cached by nginx: such a file is removed instead, so the next request renders it again. Only
   * the size is compared: a stat, never a read of the bytes, on every hit.
   */
  async function isWhole(key: string, file: Stats | null, facts: RenderMetadata | null): Promise<boolean> {
    if (file === null) return false;
    if (facts !== null && facts.bytes === file.size) return true;
    // Removed only if still the same file: a render published again meanwhile is left alone.
    const now = await stat(pathOf(key)).catch(() => null);
    if (now !== null && now.ino === file.ino && now.dev === file.dev) await remove(key);
    options.onDamaged?.({ key, bytes: file.size, expectedBytes: facts?.bytes ?? null });
    return false;
  }

  /** The render's facts when its file is whole (see isWhole), else null. */
  async function wholeMetadata(key: string): Promise<RenderMetadata | null> {
    const [file, facts] = await Promise.all([stat(pathOf(key)).catch(() => null), readMetadata(key)]);
    return (await isWhole(key, file, facts)) ? facts : null;
  }

  return {
    dir,
    pathOf,
    touch,
    async has(key) {
      return (await wholeMetadata(key)) !== null;
    },
    async open(key) {
      // The facts are read alongside the open: a hit waits for the slower of the two, not both.
      const facts = readMetadata(key);
      let handle: FileHandle;
      try {
        handle = await open(pathOf(key), 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
      try {
        const file = await handle.stat();
        if (!(await isWhole(key, file, await facts))) {
          await handle.close();
          return null;
        }
        await touch(key);
        return { handle, size: file.size };
      } catch (error) {
        await handle.close();
        throw error;
      }
    },
    metadata: wholeMetadata,
    async list() {
      const entries: StoredEntry[] = [];
      for (const { key, file } of await storedFiles('.mp3')) {
        const facts = await stat(file).catch(() => null);
        if (facts) entries.push({ key, bytes: facts.size, lastUsedMs: facts.mtimeMs });
      }
      return entries;
    },
    remove,
    async removeSource(source) {
      let removed = 0;
      let bytes = 0;
      for (const { key, file } of await storedFiles('.json')) {
        const metadata = await readFile(file, 'utf8').then(
          (text) => JSON.parse(text) as RenderMetadata,
          () => null,
        );
        if (metadata?.source !== source) continue;
        const facts = await stat(pathOf(key)).catch(() => null);
        await remove(key);
        // A .json left without its audio (a crash between the two renames) is tidied, not counted.
        if (facts) {
          removed += 1;
          bytes += facts.size;
        }
      }
      return { removed, bytes };
    },
    async tempPathFor(key) {
      await mkdir(tempDir, { recursive: true });
      return path.join(tempDir, `${key}.${process.pid}.${host}.${randomBytes(4).toString('hex')}.mp3`);
    },
    tempFileNamed(name) {
      return TEMP_NAME_PATTERN.test(name) ? path.join(tempDir, name) : null;
    },
    async publish(tempFile, metadata) {
      const finalPath = pathOf(metadata.key);
      const shard = path.dirname(finalPath);
      const newShard = await mkdir(shard, { recursive: true });
      const metadataTemp = `${tempFile}.json`;
      // Both files' bytes on the disk before either name is (durable-file.ts).
      await Promise.all([writeFlushed(metadataTemp, `${JSON.stringify(metadata)}\n`), flushToDisk(tempFile)]);
      await rename(metadataTemp, metadataPathOf(metadata.key));
      // The audio last: its presence is what marks a render as complete.
      await rename(tempFile, finalPath);
      // The renames on the disk before the job completes and waiters (and nginx) are told it exists.
      await flushToDisk(shard);
      if (newShard !== undefined) await flushToDisk(dir);
    },
    async discard(tempFile) {
      await rm(tempFile, { force: true });
      await rm(`${tempFile}.json`, { force: true });
    },
    removeTemps: (pid) => removeTempsOf((writer) => writer === pid),
    removeOrphanTemps: () => removeTempsOf((writer) => !processRuns(writer)),
  };
}
