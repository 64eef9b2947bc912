// Owns where a render's bytes come from when it is answered: the API's memory copy if it is hot, else the
// store's file (copied into memory on the way when it fits, so the next hit needs no file at all).
import type { Readable } from 'node:stream';
import type { HotRenders } from './hot-renders.js';
import type { RenderStore, StoredRender } from './render-store.js';

/** A render's bytes, to be released once the answer no longer needs them. */
export interface RenderBody {
  readonly size: number;
  /** Where the bytes were when asked for: the API's memory copy, or only the store. */
  readonly origin: 'memory' | 'store';
  /** True while the bytes are read from the store's file: eviction must then leave the file alone. */
  readonly readsStoreFile: boolean;
  /** Bytes `start`..`end` (inclusive), as something Fastify sends as it is. */
  slice(start: number, end: number): Readable | Buffer;
  /** The render's first bytes (up to HEAD_BYTES): its tags and its Xing/Info frame, which say how it was made. */
  head(): Promise<Buffer>;
  /** For answers that send no bytes (HEAD, 304, 416): closes the file, if any. */
  release(): Promise<void>;
}

/** Enough for an ID3 tag of text frames and the Xing/Info frame after it. */
const HEAD_BYTES = 4096;

export interface RenderReader {
  /**
   * The render's bytes, or null when the store does not have it. `headOnly`: the answer needs only the
   * render's head (nginx sends the bytes from the store's file), so a render that is not hot is not read
   * into memory for it.
   */
  open(key: string, options?: { headOnly?: boolean }): Promise<RenderBody | null>;
}

export function createRenderReader(deps: { store: Pick<RenderStore, 'open' | 'touch'>; hot: HotRenders }): RenderReader {
  // Reads of a render into memory now under way. A render that just completed has all its waiters asking at
  // once (50 per key in the bench's crowd): they share one read and one Buffer instead of each reading its
  // own copy, which a slow client would then hold for as long as its answer takes.
  const reading = new Map<string, Promise<RenderBody | null>>();

  async function readFromStore(key: string): Promise<RenderBody | null> {
    const stored = await deps.store.open(key);
    if (!stored) return null;
    if (!deps.hot.accepts(stored.size)) return fileBody(stored);
    let bytes: Buffer;
    try {
      bytes = await stored.handle.readFile();
    } finally {
      await stored.handle.close();
    }
    deps.hot.remember(key, bytes);
    return memoryBody(bytes, 'store');
  }

  return {
    async open(key, options) {
      const hot = deps.hot.get(key);
      if (hot) {
        if (hot.touchStore) void deps.store.touch(key);
        return memoryBody(hot.bytes, 'memory');
      }
      // Handed to nginx: the whole render read into memory (and kept hot) for a 4 KB head was 480 KB of reads,
      // copies and garbage per miss through nginx, whose own cache then holds the bytes (issue 15).
      if (options?.headOnly && !reading.has(key)) {
        const stored = await deps.store.open(key);
        return stored ? fileBody(stored) : null;
      }
      const shared = reading.get(key);
      if (shared) {
        // A body read into memory can be shared; a streamed one (too large to keep) is each request's own.
        const body = await shared;
        return body === null || !body.readsStoreFile ? body : readFromStore(key);
      }
      const read = readFromStore(key);
      reading.set(key, read);
      try {
        return await read;
      } finally {
        reading.delete(key);
      }
    },
  };
}

function memoryBody(bytes: Buffer, origin: RenderBody['origin']): RenderBody {
  return {
    size: bytes.length,
    origin,
    readsStoreFile: false,
    slice: (start, end) => bytes.subarray(start, end + 1),
    head: async () => bytes.subarray(0, HEAD_BYTES),
    release: async () => {},
  };
}

function fileBody(stored: StoredRender): RenderBody {
  return {
    size: stored.size,
    origin: 'store',
    readsStoreFile: true,
    // The stream closes the handle when it ends or the client goes away.
    slice: (start, end) => stored.handle.createReadStream({ start, end }),
    head: async () => {
      const head = Buffer.alloc(Math.min(HEAD_BYTES, stored.size));
      const { bytesRead } = await stored.handle.read(head, 0, head.length, 0);
      return head.subarray(0, bytesRead);
    },
    release: () => stored.handle.close(),
  };
}
