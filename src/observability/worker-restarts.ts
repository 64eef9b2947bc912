// Owns the cluster-wide count of worker restarts: whoever restarts a dead worker (the stack's supervisor,
// or systemd's ExecStopPost in src/stack/systemd/) adds one in Redis, and any API process reads it for
// /metrics. The supervisor is not the API's process, so the figure cannot live in the API's memory.
import type { Redis } from 'ioredis';

/** Also named in src/stack/systemd/mp3-segments-worker@.service (its unit test checks they agree). */
export const WORKER_RESTARTS_KEY = 'mp3-segments:worker_restarts_total';

export async function countWorkerRestart(redis: Redis): Promise<void> {
  await redis.incr(WORKER_RESTARTS_KEY);
}

export async function readWorkerRestarts(redis: Redis): Promise<number> {
  return Number((await redis.get(WORKER_RESTARTS_KEY)) ?? 0);
}
