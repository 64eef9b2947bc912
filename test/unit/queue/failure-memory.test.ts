// The failure memory on a real Redis (a private redis-server for this file), and on one it cannot reach.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFailureMemory, type FailureMemory } from '../../../src/queue/failure-memory.js';
import { connectRedis } from '../../../src/queue/redis-connection.js';
import { type RenderFailure, UNEXPLAINED_FAILURE } from '../../../src/render/render-failure.js';
import { RETRY_AFTER } from '../../../src/retry-after.js';
import { freePort } from '../../../src/stack/free-port.js';
import { freshKey } from '../../helpers/render-queue.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

const SOURCE_TOO_SHORT: RenderFailure = { status: 422, detail: 'The source ends before 20 s.', permanent: true };
const SOURCE_CHANGED: RenderFailure = { status: 503, detail: 'The source file changed; retry.', permanent: true };
const OUT_OF_TIME: RenderFailure = { status: 503, detail: 'The render ran out of time; retry.', permanent: false };

let redis: TestRedis;
let client: Redis;
let memory: FailureMemory;

beforeAll(async () => {
  redis = await startTestRedis();
  client = new Redis(redis.url);
  memory = createFailureMemory(client);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

/** The Redis key the memory wrote for a render key (found, not spelled: its prefix is the module's own). */
async function recordNameOf(key: string): Promise<string> {
  const names = await client.keys(`*${key}*`);
  expect(names).toHaveLength(1);
  return names[0]!;
}

describe('failure memory', () => {
  it('reads a recorded failure back as the same typed value', async () => {
    const key = freshKey();
    await memory.record(key, SOURCE_TOO_SHORT);
    expect(await memory.failureOf(key)).toStrictEqual(SOURCE_TOO_SHORT);
    expect(await memory.permanent(key)).toStrictEqual(SOURCE_TOO_SHORT);
  });

  it('permanent() answers only failures recorded as permanent', async () => {
    const [changed, outOfTime] = [freshKey(), freshKey()];
    await memory.record(changed, SOURCE_CHANGED);
    await memory.record(outOfTime, OUT_OF_TIME);
    expect(await memory.permanent(changed)).toStrictEqual(SOURCE_CHANGED);
    expect(await memory.permanent(outOfTime)).toBeNull();
    expect(await memory.failureOf(outOfTime)).toStrictEqual(OUT_OF_TIME);
  });

  it('a key with no record failed on the unexplained passing fault, and not for good', async () => {
    const key = freshKey();
    expect(await memory.failureOf(key)).toStrictEqual(UNEXPLAINED_FAILURE);
    expect(await memory.permanent(key)).toBeNull();
  });

  it('a later record of the same key replaces the earlier one', async () => {
    const key = freshKey();
    await memory.record(key, OUT_OF_TIME);
    await memory.record(key, SOURCE_TOO_SHORT);
    expect(await memory.failureOf(key)).toStrictEqual(SOURCE_TOO_SHORT);
  });

  const foreignRecords = [
    ['text that is not JSON', 'render failed'],
    ['JSON null', 'null'],
    ['a status that is neither 422 nor 503', JSON.stringify({ status: 500, detail: 'boom', permanent: true })],
    ['a record without its detail', JSON.stringify({ status: 422, permanent: true })],
    ['a permanent flag that is not a boolean', JSON.stringify({ status: 422, detail: 'bad', permanent: 'yes' })],
  ];
  for (const [what, text] of foreignRecords) {
    it(`a record that is not ours (${what}) reads as no record`, async () => {
      const key = freshKey();
      await memory.record(key, SOURCE_TOO_SHORT);
      await client.set(await recordNameOf(key), text!);
      expect(await memory.permanent(key)).toBeNull();
      expect(await memory.failureOf(key)).toStrictEqual(UNEXPLAINED_FAILURE);
    });
  }

  it('reads only the fields of a failure, whatever else the record holds', async () => {
    const key = freshKey();
    await memory.record(key, SOURCE_TOO_SHORT);
    await client.set(await recordNameOf(key), JSON.stringify({ ...SOURCE_TOO_SHORT, stderr: '/srv/media/secret: Invalid data' }));
    expect(await memory.failureOf(key)).toStrictEqual(SOURCE_TOO_SHORT);
  });

  it('remembers a permanent 422 for an hour: a changed source gets a new key anyway', async () => {
    const key = freshKey();
    await memory.record(key, SOURCE_TOO_SHORT);
    const ttl = await client.ttl(await recordNameOf(key));
    expect(ttl).toBeGreaterThan(3_590);
    expect(ttl).toBeLessThanOrEqual(3_600);
  });

  for (const [what, failure] of [
    ['a permanent 503', SOURCE_CHANGED],
    ['a passing 503', OUT_OF_TIME],
  ] as const) {
    it(`remembers ${what} only for as long as its waiting requests are told to wait (Retry-After renderFailed)`, async () => {
      const key = freshKey();
      await memory.record(key, failure);
      const ttl = await client.ttl(await recordNameOf(key));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(RETRY_AFTER.renderFailed);
      expect(ttl).toBeGreaterThanOrEqual(RETRY_AFTER.renderFailed - 1);
    });
  }

  describe('with Redis out of reach (the request path fails fast)', () => {
    let unreachable: Redis;
    let cutOff: FailureMemory;
    beforeAll(async () => {
      unreachable = connectRedis(`redis://127.0.0.1:${await freePort()}`, 'fail-fast', 'failure-memory-test');
      unreachable.on('error', () => undefined);
      cutOff = createFailureMemory(unreachable);
    });
    afterAll(() => {
      unreachable?.disconnect();
    });

    it('failureOf() answers the passing fault at once, so waiting requests still get an answer', async () => {
      const started = performance.now();
      expect(await cutOff.failureOf(freshKey())).toStrictEqual(UNEXPLAINED_FAILURE);
      expect(performance.now() - started).toBeLessThan(1_000);
    });

    it('permanent() rejects at once: its caller decides what an unreadable memory means', async () => {
      const started = performance.now();
      await expect(cutOff.permanent(freshKey())).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(1_000);
    });
  });
});
