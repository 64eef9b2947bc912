// Where a render being written is followed from, named in Redis by its worker: found by its key, bounded in
// time, and forgotten at its end only by the attempt that named it (a retry may have named its own since).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderStreams, type RenderStreams, renderStreamKey } from '../../../src/queue/render-streams.js';
import { freshKey } from '../../helpers/render-queue.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let commands: Redis;
let streams: RenderStreams;

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
  streams = createRenderStreams(commands);
});
afterAll(async () => {
  commands?.disconnect();
  await redis?.stop();
});

describe('render streams', () => {
  it('names the file a render is written into, for at most as long as the render may run', async () => {
    const key = freshKey();
    expect(await streams.fileOf(key)).toBeNull();
    await streams.announce(key, 'first.mp3', 60_000);
    expect(await streams.fileOf(key)).toBe('first.mp3');
    const ttl = await commands.pttl(renderStreamKey(key));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it("forgets the name at the render's end only when it is still that attempt's", async () => {
    const key = freshKey();
    await streams.announce(key, 'retry.mp3', 60_000);
    await streams.ended(key, 'first.mp3'); // the first attempt's clean-up, after the retry named its file
    expect(await streams.fileOf(key)).toBe('retry.mp3');
    await streams.ended(key, 'retry.mp3');
    expect(await streams.fileOf(key)).toBeNull();
  });
});
