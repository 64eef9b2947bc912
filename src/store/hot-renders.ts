// Owns the API's memory copy of popular renders: an LRU bounded in bytes, so a store hit for a hot segment
// is answered from memory (no open, read and close per request). Safe to keep without invalidation: a key
// names its bytes exactly (source identity and parameters are in it), so a cached copy is never stale.
import { LRUCache } from 'lru-cache';

export interface HotRenders {
  /** The render's bytes if held; `touchStore` says the store's copy should be marked as used again. */
  get(key: string): { bytes: Buffer; touchStore: boolean } | undefined;
  /** Keeps a copy if it fits (renders larger than `maxEntryBytes` are streamed from the store instead). */
  remember(key: string, bytes: Buffer): void;
  /** Whether a render of this size would be kept: callers read it whole only then. */
  accepts(size: number): boolean;
  readonly bytes: number;
}

interface HotEntry {
  bytes: Buffer;
  /** When the store's copy was last marked as used, so a memory-only hot render is not evicted on disk. */
  storeTouchedAt: number;
}

export function createHotRenders(options: {
  maxBytes: number;
  maxEntryBytes: number;
  storeTouchEveryMs: number;
  now?: () => number;
}): HotRenders {
  const now = options.now ?? Date.now;
  const maxEntryBytes = Math.min(options.maxEntryBytes, options.maxBytes);
  // lru-cache refuses maxSize 0; a disabled cache simply never accepts anything.
  const cache =
    options.maxBytes > 0
      ? new LRUCache<string, HotEntry>({ maxSize: options.maxBytes, sizeCalculation: (entry) => Math.max(1, entry.bytes.length) })
      : null;

  return {
    get(key) {
      const entry = cache?.get(key);
      if (!entry) return undefined;
      const touchStore = now() - entry.storeTouchedAt >= options.storeTouchEveryMs;
      if (touchStore) entry.storeTouchedAt = now();
      return { bytes: entry.bytes, touchStore };
    },
    remember(key, bytes) {
      if (cache && this.accepts(bytes.length)) cache.set(key, { bytes, storeTouchedAt: now() });
    },
    accepts(size) {
      return cache !== null && size <= maxEntryBytes;
    },
    get bytes() {
      return cache?.calculatedSize ?? 0;
    },
  };
}
