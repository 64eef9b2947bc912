// Owns where a render that is being written can be followed from, across processes: as an exact render
// starts, its worker names the file it writes (in the store's temp folder) under
// `mp3-segments:stream:<key>`, for as long as the render may run. API processes read the name when a job
// they wait on reports that it started (its first progress event), and when a request joins a render that
// is already under way (queue/waiting-count.ts reads it in the same round trip as the count).
import type { Redis } from 'ioredis';

const STREAM = 'mp3-segments:stream:';

/** The Redis key naming the file `key`'s render is being written into. */
export function renderStreamKey(key: string): string {
  return `${STREAM}${key}`;
}

export interface RenderStreams {
  /** `key`'s render is being written into `fileName` (a name in the store's temp folder), for at most `ttlMs`. */
  announce(key: string, fileName: string, ttlMs: number): Promise<void>;
  /** The file `key`'s render is being written into, or null (not started, finished, or unknown). */
  fileOf(key: string): Promise<string | null>;
  /** The render ended (published or failed): its file is no longer the one to follow. */
  ended(key: string, fileName: string): Promise<void>;
}

/** Deletes the name only if it is still this render's: a retry on another worker may have announced its own. */
const END_IF_OURS = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

export function createRenderStreams(redis: Redis): RenderStreams {
  return {
    async announce(key, fileName, ttlMs) {
      await redis.set(renderStreamKey(key), fileName, 'PX', Math.max(1, Math.ceil(ttlMs)));
    },
    async fileOf(key) {
      return redis.get(renderStreamKey(key));
    },
    async ended(key, fileName) {
      await redis.eval(END_IF_OURS, 1, renderStreamKey(key), fileName);
    },
  };
}
