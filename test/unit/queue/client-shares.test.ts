// Each client's share of the render queue, counted in Redis: counted freely while the queue has room; once
// it is full, only a client below MAX_QUEUE_DEPTH ÷ clients; a client leaves the count with its last render.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ClientShares, createClientShares } from '../../../src/queue/client-shares.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let commands: Redis;
let shares: ClientShares;

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
  shares = createClientShares(commands);
});
beforeEach(async () => {
  await commands.flushall();
});
afterAll(async () => {
  commands?.disconnect();
  await redis?.stop();
});

const free = { onlyBelowShare: false };
const full = { onlyBelowShare: true };

describe('client shares', () => {
  it('count freely while the queue has room, however far past the share', async () => {
    for (let i = 0; i < 6; i += 1) expect((await shares.countIn('10.0.0.1', 4, free)).counted).toBe(true);
  });

  it('once the queue is full, refuse a client at its share and take one below it: the share is capacity ÷ clients', async () => {
    for (let i = 0; i < 4; i += 1) await shares.countIn('10.0.0.1', 4, free);
    expect(await shares.countIn('10.0.0.1', 4, full)).toEqual({ counted: false, share: 4 });
    // A newcomer makes two clients: a share of 2 each; it has used none.
    expect(await shares.countIn('10.0.0.2', 4, full)).toEqual({ counted: true, share: 2 });
    expect(await shares.countIn('10.0.0.2', 4, full)).toEqual({ counted: true, share: 2 });
    expect(await shares.countIn('10.0.0.2', 4, full)).toEqual({ counted: false, share: 2 });
    expect((await shares.countIn('10.0.0.1', 4, full)).counted).toBe(false);
  });

  it('let a client go with its last render, and give its share back to the others', async () => {
    await shares.countIn('10.0.0.1', 4, free);
    await shares.countIn('10.0.0.2', 4, free);
    await shares.countIn('10.0.0.2', 4, free);
    expect(await shares.countIn('10.0.0.2', 4, full)).toEqual({ counted: false, share: 2 });
    await shares.countOut('10.0.0.1');
    expect(await commands.zrange('mp3-segments:clients', '0', '-1')).toEqual(['10.0.0.2']);
    expect(await shares.countIn('10.0.0.2', 4, full)).toEqual({ counted: true, share: 4 });
  });

  it('expire counts that an API process which died left behind', async () => {
    await shares.countIn('10.0.0.1', 4, free);
    const ttl = await commands.ttl('mp3-segments:client-asks:10.0.0.1');
    expect(ttl).toBeGreaterThan(3_600);
    const old = createClientShares(commands, () => Date.now() - 4_000_000);
    await commands.flushall();
    await old.countIn('10.0.0.9', 4, free); // counted over an hour ago
    expect(await shares.countIn('10.0.0.1', 4, full)).toEqual({ counted: true, share: 4 });
  });
});
