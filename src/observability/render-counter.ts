// Owns the cluster-wide count of renders: workers add to Redis as each render is published (or skipped,
// its waiters all gone), and any API process reads it for /metrics, so the figure is the same whichever
// process is scraped.
import type { Redis } from 'ioredis';
import type { RenderMode } from '../render/render-spec.js';

const RENDERS_KEY = 'mp3-segments:renders_total';
const SKIPPED_KEY = 'mp3-segments:renders_skipped_total';

export async function countRender(redis: Redis, mode: RenderMode): Promise<void> {
  await redis.hincrby(RENDERS_KEY, mode, 1);
}

export async function readRenderCounts(redis: Redis): Promise<Record<string, number>> {
  const raw = await redis.hgetall(RENDERS_KEY);
  return Object.fromEntries(Object.entries(raw).map(([mode, count]) => [mode, Number(count)]));
}

/** A queued render skipped because every request that waited for it had gone (waiting-count.ts). */
export async function countSkippedRender(redis: Redis): Promise<void> {
  await redis.incr(SKIPPED_KEY);
}

export async function readSkippedRenders(redis: Redis): Promise<number> {
  return Number((await redis.get(SKIPPED_KEY)) ?? 0);
}
