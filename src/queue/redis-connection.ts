// Owns how this service connects to Redis: one place for the options each kind of connection needs.
import { Redis } from 'ioredis';

export type ConnectionPurpose =
  /**
   * Request path (Queue.add, readiness): fails fast while Redis is down (no offline queue) or stalled (a
   * command timeout), instead of hanging requests.
   */
  | 'fail-fast'
  /** Blocking readers (QueueEvents, Worker): BullMQ requires maxRetriesPerRequest: null. */
  | 'blocking';

/** REDIS_COMMAND_TIMEOUT_MS's default, for connections made outside the API (the stack's, tests'). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;

export function connectRedis(url: string, purpose: ConnectionPurpose, name: string, options: { commandTimeoutMs?: number } = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    // Keep trying for as long as the process lives: recovery after an outage needs no restart.
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    ...(purpose === 'fail-fast'
      ? {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2_000,
          // A Redis that accepts no more answers (SIGSTOP, a slow script, a fork or fsync stall, a network
          // black hole) keeps the connection open: without this a command would wait for ever. Blocking
          // connections cannot have it: their commands wait on purpose (BZPOPMIN, XREAD BLOCK).
          commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        }
      : { maxRetriesPerRequest: null }),
  });
}
