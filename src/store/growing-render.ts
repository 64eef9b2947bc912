// Owns reading a render while its worker writes it: its length as its header states it before the last
// byte exists (media/info-frame.ts), and a stream of the file's bytes as they are written (all but the
// last, which waits for the render's check and publication), that ends once the render is published
// (`done` resolves, or the file it read is found renamed into the store), and fails when the render
// fails (`done` rejects) or nothing is written for `idleLimitMs`. A render whose worker died is written
// again by a retry into another file: the stream goes on from there, at the byte it reached, once the new
// file holds that many bytes and they hash the same as those already sent (renders are bit-exact: the
// same key gives the same bytes), so a worker's crash costs the listener a pause, not the answer. A file
// is opened once: its handle goes on reading the same bytes after the file is renamed into the store, or
// removed by a failed attempt's clean-up.
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { statedLength } from '../media/mp3-frame.js';
import type { RenderStore } from './render-store.js';

export interface GrowingRenderLimits {
  /** How often an idle file is looked at again: bytes reach the client within this of being written. */
  pollMs: number;
  /** Idle this long, the stream asks which file the render is written into now (a retry's). */
  switchCheckMs: number;
  /** Nothing written for this long, while the render has not ended, fails the stream. */
  idleLimitMs: number;
}

/** The render stopped being written while it had not ended. */
export class RenderStalled extends Error {
  constructor(idleLimitMs: number) {
    super(`the render being streamed wrote nothing for ${idleLimitMs} ms`);
    this.name = 'RenderStalled';
  }
}

/** The render was published, or written again, with other bytes than those already sent. */
export class RenderReplaced extends Error {
  constructor(reason: string) {
    super(`the render being streamed was ${reason}`);
    this.name = 'RenderReplaced';
  }
}

const CHUNK_BYTES = 64 * 1024;

/** Where the render is being written now (null: unknown), for a stream whose file stopped growing. */
export type CurrentFile = () => Promise<string | null>;

async function openIfThere(file: string): Promise<FileHandle | null> {
  try {
    return await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** True when the first `length` bytes of `handle` hash as `sent` does. */
async function startsWith(handle: FileHandle, length: number, sent: Hash): Promise<boolean> {
  const hash = createHash('sha1');
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let at = 0; at < length; ) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(CHUNK_BYTES, length - at), at);
    if (bytesRead === 0) return false;
    hash.update(chunk.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hash.digest().equals(sent.copy().digest());
}

/** The file's bytes as they are written; null when the file is gone already (published, or its attempt failed). */
export async function openGrowingRender(
  file: string,
  done: Promise<unknown>,
  limits: GrowingRenderLimits,
  options: {
    /** Where the render is written now, asked when the file stops growing. */
    currentFile?: CurrentFile;
    /**
     * True when the file with these identities is the render published in the store, asked when the file
     * stops growing: a render published while its completion cannot be heard (Redis gone) still ends.
     */
    isPublished?: (file: { dev: number; ino: number }) => Promise<boolean>;
    /**
     * The length the answer states: its last byte is sent only once the render is published, so an answer
     * whose render fails its final check is cut short, never complete (nginx would keep a complete one).
     */
    size?: number;
  } = {},
): Promise<Readable | null> {
  const currentFile = options.currentFile ?? (async () => null);
  const isPublished = options.isPublished ?? (async () => false);
  const size = options.size ?? Infinity;
  let handle = await openIfThere(file);
  if (!handle) return null;
  let following = file;
  let ended: 'no' | 'published' | Error = 'no';
  done.then(
    () => {
      ended = 'published';
    },
    (error: Error) => {
      ended = error;
    },
  );
  const stopWaiting = new AbortController();
  const sent = createHash('sha1');
  let position = 0;
  let lastGrowth = performance.now();
  let lastSwitchCheck = lastGrowth;
  let pumping = false;

  const stream = new Readable({
    read() {
      if (!pumping) void pump();
    },
    destroy(error, callback) {
      stopWaiting.abort();
      const closing = handle?.close();
      handle = null;
      (closing ?? Promise.resolve()).then(
        () => callback(error),
        () => callback(error),
      );
    },
  });

  /**
   * Once the file stops growing: either it is the render published already (its completion not heard),
   * or a retry writes another file, which the stream moves to once it holds and repeats every byte sent.
   */
  async function lookAround(): Promise<void> {
    lastSwitchCheck = performance.now();
    if (handle && (await isPublished(await handle.stat()).catch(() => false))) {
      ended = 'published';
      return;
    }
    const now = await currentFile().catch(() => null);
    if (now === null || now === following) return;
    const next = await openIfThere(now);
    if (!next) return;
    if ((await next.stat()).size < position) return void (await next.close()); // not caught up yet: ask again later
    if (!(await startsWith(next, position, sent))) {
      await next.close();
      throw new RenderReplaced('written again with other bytes');
    }
    await handle?.close();
    handle = next;
    following = now;
    lastGrowth = performance.now();
  }

  /** Reads what is there; waits for more while the render runs; stops when the reader wants no more now. */
  async function pump(): Promise<void> {
    pumping = true;
    try {
      while (!stream.destroyed && handle) {
        // Looked at before the read: a render published before the read has all its bytes in the file.
        const state = ended;
        if (state instanceof Error) return void stream.destroy(state);
        const allowed = Math.min(CHUNK_BYTES, (state === 'published' ? Infinity : size - 1) - position);
        const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
        const { bytesRead } = allowed > 0 ? await handle.read(chunk, 0, allowed, position) : { bytesRead: 0 };
        if (bytesRead > 0) {
          const bytes = chunk.subarray(0, bytesRead);
          position += bytesRead;
          sent.update(bytes);
          lastGrowth = performance.now();
          if (!stream.push(bytes)) return;
          continue;
        }
        if (state === 'published') {
          // Published is this file only if it is still linked: else a retry's file was published.
          if ((await handle.stat()).nlink === 0) return void stream.destroy(new RenderReplaced('published from a retry'));
          return void stream.push(null);
        }
        const idleMs = performance.now() - lastGrowth;
        if (idleMs > limits.idleLimitMs) return void stream.destroy(new RenderStalled(limits.idleLimitMs));
        if (idleMs > limits.switchCheckMs && performance.now() - lastSwitchCheck > limits.switchCheckMs) {
          await lookAround();
          continue;
        }
        await Promise.race([sleep(limits.pollMs, undefined, { signal: stopWaiting.signal }), done]).catch(() => undefined);
      }
    } catch (error) {
      stream.destroy(error as Error);
    } finally {
      pumping = false;
    }
  }

  return stream;
}

/** A render being written: its bytes as they come, and its length, stated before they are all written. */
export interface FollowedRender {
  bytes: Readable;
  size: number;
}

/** Follows `key`'s render, being written into `fileName` (a name a worker announced), to its end; null when it cannot be followed. */
export type RenderFollower = (key: string, fileName: string, done: Promise<unknown>) => Promise<FollowedRender | null>;

/** The length the file's header states, once it holds it; null when it is gone, or the render ended first. */
async function statedLengthOnceWritten(file: string, done: Promise<unknown>, limits: GrowingRenderLimits): Promise<number | null> {
  let ended = false;
  done.then(
    () => (ended = true),
    () => (ended = true),
  );
  for (const started = performance.now(); performance.now() - started < limits.idleLimitMs && !ended; ) {
    const size = await statedLength(file).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? -1 : null));
    if (size !== null) return size < 0 ? null : size;
    await sleep(limits.pollMs);
  }
  return null;
}

export function createRenderFollower(
  store: Pick<RenderStore, 'tempFileNamed' | 'pathOf'>,
  fileOf: (key: string) => Promise<string | null>,
  limits: GrowingRenderLimits,
): RenderFollower {
  const pathOf = (fileName: string | null) => (fileName === null ? null : store.tempFileNamed(fileName));
  return async (key, fileName, done) => {
    const file = pathOf(fileName);
    const size = file === null ? null : await statedLengthOnceWritten(file, done, limits);
    if (file === null || size === null) return null;
    const bytes = await openGrowingRender(file, done, limits, {
      size,
      currentFile: async () => pathOf(await fileOf(key)),
      isPublished: async (followed) => {
        const stored = await stat(store.pathOf(key)).catch(() => null);
        return stored !== null && stored.dev === followed.dev && stored.ino === followed.ino;
      },
    });
    return bytes && { bytes, size };
  };
}
