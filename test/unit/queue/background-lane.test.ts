// The background lane in Redis: places for background renders (one fewer than the workers), taken once per
// render key, freed when the render ends, and dropped when no render could still hold them.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { backgroundPlaces, createBackgroundLane } from '../../../src/queue/background-lane.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let commands: Redis;

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
});
beforeEach(async () => {
  await commands.flushall();
});
afterAll(async () => {
  commands?.disconnect();
  await redis?.stop();
});

describe('the background lane', () => {
  it('keeps one worker out of it, but never closes it', () => {
    expect([1, 2, 3, 8].map(backgroundPlaces)).toEqual([1, 1, 2, 7]);
  });

  it('gives places up to its size, once per render, and a freed place to the next', async () => {
    const lane = createBackgroundLane(commands, { maxAgeMs: 60_000 });
    expect(await lane.take('a', 2)).toBe(true);
    expect(await lane.take('a', 2)).toBe(true); // the same render holds one place, however often asked
    expect(await lane.take('b', 2)).toBe(true);
    expect(await lane.take('c', 2)).toBe(false);
    await lane.free('a');
    expect(await lane.take('c', 2)).toBe(true);
  });

  it('drops a place no render could still hold', async () => {
    let now = 1_000_000;
    const lane = createBackgroundLane(commands, { maxAgeMs: 60_000, now: () => now });
    expect(await lane.take('left-behind', 1)).toBe(true);
    expect(await lane.take('next', 1)).toBe(false);
    now += 60_001;
    expect(await lane.take('next', 1)).toBe(true);
  });
});
