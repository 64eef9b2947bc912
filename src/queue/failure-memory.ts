// Owns remembering failed renders for a while, in Redis (all workers see it): a key that just failed for
// good is not rendered again at once. Without it, requests queued behind nginx's cache lock each go upstream
// in turn after a failure (a failure is never cached) and each would start the same doomed render again.
import type { Redis } from 'ioredis';
import { decodeFailure, encodeFailure, FAILURE_RETRY_AFTER_SECONDS, type RenderFailure } from './render-job.js';

const PREFIX = 'mp3-segments:failed:';

/**
 * How long a failure is remembered. A 422 is about the source's bytes, and a changed file gets a new render
 * key, so it can be remembered long; a 503 (a render that ran out of time) only for as long as the waiting
 * requests are told to wait before retrying.
 */
export function failureMemorySeconds(failure: RenderFailure): number {
  return failure.status === 422 ? 3_600 : FAILURE_RETRY_AFTER_SECONDS;
}

export async function rememberFailure(redis: Redis, key: string, failure: RenderFailure): Promise<void> {
  await redis.set(`${PREFIX}${key}`, encodeFailure(failure), 'EX', failureMemorySeconds(failure));
}

/** The failure remembered for this key, if it failed recently. */
export async function recentFailure(redis: Redis, key: string): Promise<RenderFailure | null> {
  const encoded = await redis.get(`${PREFIX}${key}`);
  return encoded === null ? null : decodeFailure(encoded);
}
