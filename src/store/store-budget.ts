// Owns the render store's size budget (STORE_MAX_BYTES): the store's total is kept in Redis, so every worker
// on every machine adds to the same figure as it publishes; past the budget one worker at a time (a Redis
// lock) lists the store and removes the least recently used renders down to 90 % of the budget. A render
// used within the grace period is never removed (it may be being streamed; one being written is still a
// temp file, never listed). A stream that outlasts the grace keeps its bytes anyway: it reads from an open
// file, which removal does not cut (POSIX unlink). The count is Redis's, so it can be lost with Redis's data
// (a flush, a failover to an empty replica): a count found missing is taken from the disk again, never
// restarted at 0, which would let the store grow past its budget unseen (issue 14).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RenderStore, StoredEntry } from './render-store.js';

const TOTAL_KEY = 'mp3-segments:store_bytes';
const LOCK_KEY = 'mp3-segments:store_evict_lock';
/** Long enough to list and prune a large store; released as soon as the pass ends. */
const LOCK_MS = 60_000;
/** Evict down to this share of the budget, so the next publishes do not each start a pass. */
const LOW_WATER = 0.9;

export interface EvictionPass {
  /** Renders removed, and their bytes. */
  removed: number;
  removedBytes: number;
  /** The store's total after the pass. */
  totalBytes: number;
  /** Bytes over the budget that could not be removed because every remaining render is in its grace. */
  overBudgetBytes: number;
}

export interface StoreBudget {
  /** A render of `bytes` was published: count it, and prune if the store is now past its budget. */
  published(bytes: number): Promise<EvictionPass | null>;
  /** Lists the store, sets the true total, prunes if past the budget. Null when another pass is running. */
  reconcile(): Promise<EvictionPass | null>;
  /** Renders of `bytes` were removed outside a pass (a purge): uncount them. */
  removed(bytes: number): Promise<void>;
  /** The store's total as last counted (counted from the disk again if Redis lost the count). */
  totalBytes(): Promise<number>;
}

/** The store's total as last counted by every worker; the API reads it for /metrics without a budget of its own. */
export async function readStoreBytes(redis: Redis): Promise<number> {
  return Number((await redis.get(TOTAL_KEY)) ?? 0);
}

/** Pure: which renders to remove, least recently used first, to bring `entries` down to `targetBytes`. */
export function chooseEvictions(
  entries: readonly StoredEntry[],
  targetBytes: number,
  protectedSinceMs: number,
): { doomed: StoredEntry[]; remainingBytes: number } {
  let remainingBytes = entries.reduce((sum, entry) => sum + entry.bytes, 0);
  const doomed: StoredEntry[] = [];
  const oldestFirst = [...entries].sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.key.localeCompare(b.key));
  for (const entry of oldestFirst) {
    if (remainingBytes <= targetBytes || entry.lastUsedMs >= protectedSinceMs) break;
    doomed.push(entry);
    remainingBytes -= entry.bytes;
  }
  return { doomed, remainingBytes };
}

export function createStoreBudget(deps: {
  store: RenderStore;
  redis: Redis;
  maxBytes: number;
  graceMs: number;
  now?: () => number;
}): StoreBudget {
  const now = deps.now ?? Date.now;

  async function withLock<T>(work: () => Promise<T>): Promise<T | null> {
    const token = randomUUID();
    if ((await deps.redis.set(LOCK_KEY, token, 'PX', LOCK_MS, 'NX')) !== 'OK') return null;
    try {
      return await work();
    } finally {
      // Release only our own lock (it may have expired and been taken by another pass).
      if ((await deps.redis.get(LOCK_KEY)) === token) await deps.redis.del(LOCK_KEY);
    }
  }

  function reconcile(): Promise<EvictionPass | null> {
    return withLock(async () => {
      const counted = Number((await deps.redis.get(TOTAL_KEY)) ?? 0);
      const entries = await deps.store.list();
      const total = entries.reduce((sum, entry) => sum + entry.bytes, 0);
      const target = total > deps.maxBytes ? Math.floor(deps.maxBytes * LOW_WATER) : total;
      const { doomed, remainingBytes } = chooseEvictions(entries, target, now() - deps.graceMs);
      for (const entry of doomed) await deps.store.remove(entry.key);
      // Corrected by a difference, not overwritten: renders published during the pass keep their count
      // (one published between the reading and the listing is counted twice until the next pass: the safe side).
      await deps.redis.incrby(TOTAL_KEY, remainingBytes - counted);
      return {
        removed: doomed.length,
        removedBytes: total - remainingBytes,
        totalBytes: remainingBytes,
        overBudgetBytes: Math.max(0, remainingBytes - deps.maxBytes),
      };
    });
  }

  /** Adds `delta` to the count; `lost` when there was no count to add to (Redis lost it: only a recount knows). */
  async function count(delta: number): Promise<{ total: number; lost: boolean }> {
    const replies = await deps.redis.multi().exists(TOTAL_KEY).incrby(TOTAL_KEY, delta).exec();
    const failed = replies?.find(([error]) => error)?.[0];
    if (!replies || failed) throw failed ?? new Error('the store count was not updated');
    return { lost: replies[0]![1] === 0, total: Number(replies[1]![1]) };
  }

  return {
    async published(bytes) {
      const { total, lost } = await count(bytes);
      return lost || total > deps.maxBytes ? reconcile() : null;
    },
    reconcile,
    async removed(bytes) {
      if (bytes <= 0) return;
      // A pass running at the same time may count these bytes out as well; the next pass corrects it.
      if ((await count(-bytes)).lost) await reconcile();
    },
    async totalBytes() {
      if ((await deps.redis.exists(TOTAL_KEY)) === 0) await reconcile();
      return readStoreBytes(deps.redis);
    },
  };
}
