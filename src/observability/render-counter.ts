// Owns the cluster-wide count of renders: workers add to a Redis hash as each render is published, and
// any API process reads it for /metrics, so the figure is the same whichever process is scraped.
import type { Redis } from 'ioredis';
import type { RenderMode } from '../render/render-spec.js';

const RENDERS_KEY = 'mp3-segments:renders_total';

export async function countRender(redis: Redis, mode: RenderMode): Promise<void> {
  await redis.hincrby(RENDERS_KEY, mode, 1);
}

export async function readRenderCounts(redis: Redis): Promise<Record<string, number>> {
  const raw = await redis.hgetall(RENDERS_KEY);
  return Object.fromEntries(Object.entries(raw).map(([mode, count]) => [mode, Number(count)]));
}
