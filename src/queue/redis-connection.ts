// Owns how this service connects to Redis: one place for the options each kind of connection needs.
import { Redis } from 'ioredis';

export type ConnectionPurpose =
  /** Request path (Queue.add, readiness): fails fast while Redis is down instead of hanging requests. */
  | 'fail-fast'
  /** Blocking readers (QueueEvents, Worker): BullMQ requires maxRetriesPerRequest: null. */
  | 'blocking';

export function connectRedis(url: string, purpose: ConnectionPurpose, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    // Keep trying for as long as the process lives: recovery after an outage needs no restart.
    retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    ...(purpose === 'fail-fast'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 }
      : { maxRetriesPerRequest: null }),
  });
}
