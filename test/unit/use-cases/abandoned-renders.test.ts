// A queued render whose every waiting client hung up is skipped by the worker (issue 12), while one
// a client still waits for, or one an asynchronous ask owns, is made: the API on a real port (clients
// that really disconnect), a real Redis, and an in-process worker running the real job processor.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/test-stack.js';
import { buildTestApi, type TestApi } from '../../helpers/test-api.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let api: TestApi;
let base: string;

beforeAll(async () => {
  redis = await startTestRedis();
  api = await buildTestApi({}, { redis, worker: true });
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await api?.stop();
  await redis?.stop();
});

/** A GET whose client can hang up; resolves with the status if it gets an answer. */
function ask(path: string, headers: Record<string, string> = {}) {
  const request = http.get(`${base}${path}`, { headers, agent: false });
  const answered = new Promise<number>((resolve) => {
    request.on('response', (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', () => resolve(0));
  });
  return { answered, hangUp: () => request.destroy() };
}

describe('a render nobody waits for any more', () => {
  it('is skipped, while one a client still waits for and one an asynchronous ask owns are made', async () => {
    const { queue, waiter } = api.app.renderQueue;
    await queue.pause();
    const queued = async () => (await queue.getJobs(['prioritized', 'wait'])).map((job) => job.id as string);
    const gone = [1, 3, 5, 7].map((start) => ask(`/segments/demo/tones/${start}-${start + 1}.mp3`));
    await eventually(async () => ((await queued()).length === 4 ? true : undefined), 'four queued renders');
    const abandonedKeys = await queued();
    for (const client of gone) client.hangUp();
    await eventually(async () => (waiter.waiting === 0 ? true : undefined), 'the waits to end');

    const kept = ask('/segments/demo/tones/20-21.mp3');
    const asyncAnswer = await api.app.inject({ url: '/segments/demo/tones/30-31.mp3', headers: { prefer: 'respond-async' } });
    expect(asyncAnswer.statusCode).toBe(202);
    const asyncKey = (asyncAnswer.json() as { id: string }).id;
    await eventually(async () => ((await queued()).length === 6 ? true : undefined), 'six queued renders');
    // The hang-ups are counted out of Redis a moment after the waits end.
    await eventually(
      async () =>
        (await Promise.all(abandonedKeys.map((key) => api.app.renderQueue.waitingCount.abandoned(key)))).every(Boolean) ? true : undefined,
      'the four renders to be abandoned',
    );

    await queue.resume();
    expect(await kept.answered).toBe(200);
    await eventually(
      async () =>
        (await queue.getJobCounts('prioritized', 'wait', 'active')).active === 0 && (await queued()).length === 0 ? true : undefined,
      'the queue to drain',
    );
    const statusOf = async (key: string) => (await api.app.inject({ url: `/renders/${key}` })).statusCode;
    expect(await Promise.all(abandonedKeys.map(statusOf))).toEqual([404, 404, 404, 404]);
    // Counted, for operators: segment_renders_skipped_total.
    const metrics = (await api.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/^segment_renders_skipped_total 4$/m);
    await eventually(async () => ((await statusOf(asyncKey)) === 200 ? true : undefined), 'the asynchronous render');
    expect((await api.app.inject({ url: `/renders/${asyncKey}` })).json()).toMatchObject({ status: 'done' });
  });
});
