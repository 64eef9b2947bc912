// Owns the record of how renders failed, in Redis (all workers and API processes see it), keyed by render
// key. The worker records each failure once, as a typed RenderFailure; the API reads it when the job's
// 'failed' event arrives. A key that just failed for good is not rendered again at once: without that,
// requests queued behind nginx's cache lock each go upstream in turn after a failure (a failure is never
// cached) and each would start the same doomed render again.
import type { Redis } from 'ioredis';
import { type RenderFailure, UNEXPLAINED_FAILURE } from '../render/render-failure.js';
import { RETRY_AFTER } from '../retry-after.js';

const PREFIX = 'mp3-segments:failed:';

/**
 * How long a failure is remembered. A 422 is about the source's bytes, and a changed file gets a new render
 * key, so it can be remembered long; anything else only for as long as the waiting requests are told to
 * wait before retrying.
 */
export function failureMemorySeconds(failure: RenderFailure): number {
  return failure.status === 422 && failure.permanent ? 3_600 : RETRY_AFTER.renderFailed;
}

export interface FailureMemory {
  /** Records how an attempt of this key's render failed. */
  record(key: string, failure: RenderFailure): Promise<void>;
  /** The permanent failure remembered for this key, if it failed for good recently. */
  permanent(key: string): Promise<RenderFailure | null>;
  /** How this key's job failed: its record, or a passing fault when none was written (a crashed worker). */
  failureOf(key: string): Promise<RenderFailure>;
}

function decode(text: string | null): RenderFailure | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<RenderFailure>;
    if ((value.status === 422 || value.status === 503) && typeof value.detail === 'string' && typeof value.permanent === 'boolean') {
      return { status: value.status, detail: value.detail, permanent: value.permanent };
    }
  } catch {
    // written by something else: treated as no record
  }
  return null;
}

export function createFailureMemory(redis: Redis): FailureMemory {
  const read = async (key: string) => decode(await redis.get(`${PREFIX}${key}`));
  return {
    async record(key, failure) {
      await redis.set(`${PREFIX}${key}`, JSON.stringify(failure), 'EX', failureMemorySeconds(failure));
    },
    async permanent(key) {
      const failure = await read(key);
      return failure?.permanent ? failure : null;
    },
    async failureOf(key) {
      // Redis gone as well: the waiting requests still get an answer, the passing fault's.
      return (await read(key).catch(() => null)) ?? UNEXPLAINED_FAILURE;
    },
  };
}
