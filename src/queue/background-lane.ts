// Owns how many background renders (warming: `Priority: u=7`) may be queued or running at once across the
// cluster: one fewer than the workers connected (one when there is only one), in Redis, so a listener's
// render always finds a worker free or about to be instead of waiting out a warm's render (issue 12). A
// background ask that would add a render waits for a place in the lane; the worker that ends the render
// (made, skipped or failed) frees it. A place whose render never reached a worker (an API process that died
// between taking it and adding the job) is dropped after `maxAgeMs`.
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

const LANE = 'mp3-segments:background-lane';

/** Takes a place for ARGV[2] when it holds none and fewer than ARGV[3] are taken (older than ARGV[4] ms dropped). */
const TAKE = `local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[4]))
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[2])
return 1`;

export interface BackgroundLane {
  /** True once `key`'s render holds a place (it may then be added); false while the lane is full. */
  take(key: string, places: number): Promise<boolean>;
  /** `key`'s render ended, or was never added: its place is free. */
  free(key: string): Promise<void>;
}

/** How many background renders may be under way when `workers` workers are connected. */
export function backgroundPlaces(workers: number): number {
  return Math.max(1, workers - 1);
}

export function createBackgroundLane(redis: Redis, options: { maxAgeMs: number; now?: () => number }): BackgroundLane {
  const now = options.now ?? Date.now;
  return {
    async take(key, places) {
      return (await redis.eval(TAKE, 1, LANE, now(), key, places, options.maxAgeMs)) === 1;
    },
    async free(key) {
      await redis.zrem(LANE, key);
    },
  };
}

/** The workers connected to the queue, read from Redis at most every `maxAgeMs` (a CLIENT LIST each time). */
export function createWorkerCount(queue: Pick<Queue, 'getWorkersCount'>, options: { maxAgeMs: number }): () => Promise<number> {
  let reading: { count: number; at: number } | null = null;
  return async () => {
    if (!reading || Date.now() - reading.at >= options.maxAgeMs) reading = { count: await queue.getWorkersCount(), at: Date.now() };
    return reading.count;
  };
}
