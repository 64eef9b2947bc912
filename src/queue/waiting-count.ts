// Owns how many requests wait on each render, across every API process, in Redis: each waiting request
// counts itself in before its job is added and out when its wait ends. A worker skips a queued render
// whose waiters have all left and that no asynchronous or background ask owns (issue 12: 100 clients that
// hang up must not cause 100 renders). Conservative by design: a render is skipped only on a count that
// exists and reads zero, so a count lost to a Redis hiccup or expiry means "render it".
// On Redis Cluster its script's two keys sit in different slots: counting then fails, which also means
// "render it" (no render is skipped there; the order still holds).
import type { Redis } from 'ioredis';
import { renderStreamKey } from './render-streams.js';

const WAITERS = 'mp3-segments:waiters:';
const OWNED = 'mp3-segments:owned:';
/** A count outlives every wait on it (WAIT_TIMEOUT_MS is at most an hour): a crashed API's count expires. */
const COUNT_TTL_SECONDS = 7_200;
/**
 * Counts in (KEYS[1]) and, in the same round trip, reads whether a job exists under the key, its priority
 * and whether a worker took it (KEYS[2], BullMQ's job hash), and the file its render is being written
 * into, when it has started (KEYS[3], render-streams.ts).
 */
const COUNT_IN = `local waiters = redis.call('INCR', KEYS[1]); redis.call('EXPIRE', KEYS[1], ARGV[1])
return {waiters, redis.call('HGET', KEYS[2], 'priority'), redis.call('HGET', KEYS[2], 'processedOn'), redis.call('GET', KEYS[3]), redis.call('EXISTS', KEYS[2])}`;

export interface JoinedCount {
  counted: boolean;
  /** How many wait on the render now, this request included (0 when it could not be counted). */
  waiters: number;
  /** The priority of a job queued under the key (null: none, or a worker took it already). */
  queuedPriority: number | null;
  /** The file the render is being written into, when it started already (render-streams.ts). */
  streamFile: string | null;
  /** A job exists under the key (false too when the count failed: then nothing is known). */
  jobExists: boolean;
}

export interface WaitingCount {
  /**
   * One more request waits on `key`: `counted` once it is (only then may it be counted out). `jobHash` is
   * the Redis hash of the key's job (BullMQ's queue.toKey(key)): with the count come the facts a request
   * needs to place and follow the render (JoinedCount), so it needs no second round trip.
   */
  joined(key: string, jobHash: string): Promise<JoinedCount>;
  /**
   * A counted request will never want `key`'s render: it got it (or its failure), or its client went away.
   * A request that ran out of time or was ended by a shutdown is not counted out: its render goes on and
   * fills the store for the retry.
   */
  left(key: string): Promise<void>;
  /** An asynchronous or background ask owns `key`'s render: it is rendered whoever waits. */
  own(key: string): Promise<void>;
  /** True when requests waited on `key`, all have left, and nothing owns it: its render may be skipped. */
  abandoned(key: string): Promise<boolean>;
}

export function createWaitingCount(redis: Redis): WaitingCount {
  return {
    async joined(key, jobHash) {
      try {
        // One command, not MULTI: with Redis down, the request path's connection must fail it at once.
        const [waiters, priority, takenAt, streamFile, exists] = (await redis.eval(
          COUNT_IN,
          3,
          `${WAITERS}${key}`,
          jobHash,
          renderStreamKey(key),
          COUNT_TTL_SECONDS,
        )) as [number, string | null, string | null, string | null, number];
        const queued = priority !== null && takenAt === null;
        return { counted: true, waiters, queuedPriority: queued ? Number(priority) : null, streamFile, jobExists: exists === 1 };
      } catch {
        return { counted: false, waiters: 0, queuedPriority: null, streamFile: null, jobExists: false };
      }
    },
    async left(key) {
      await redis.decr(`${WAITERS}${key}`).catch(() => undefined);
    },
    async own(key) {
      await redis.set(`${OWNED}${key}`, '1', 'EX', COUNT_TTL_SECONDS);
    },
    async abandoned(key) {
      const [count, owned] = await redis.mget(`${WAITERS}${key}`, `${OWNED}${key}`);
      return count !== null && Number(count) <= 0 && owned === null;
    },
  };
}
