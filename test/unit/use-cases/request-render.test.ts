// The miss path on a real Redis (a private redis-server for this file): a real Queue, the real waiter on a
// real QueueEvents, the real queue depth and failure memory; only the render store is a stand-in.
import { type Job, Queue, type QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFailureMemory, type FailureMemory } from '../../../src/queue/failure-memory.js';
import { createQueueDepth } from '../../../src/queue/queue-depth.js';
import { connectRedis } from '../../../src/queue/redis-connection.js';
import { JOB_NAME, QUEUE_NAME, RENDER_JOB_OPTIONS, type RenderJob, type RenderResult } from '../../../src/queue/render-job.js';
import { createRenderWaiter, type RenderWaiter, WaitAbandoned } from '../../../src/queue/render-waiter.js';
import { createBackgroundLane } from '../../../src/queue/background-lane.js';
import { createClientShares } from '../../../src/queue/client-shares.js';
import { createWaitingCount } from '../../../src/queue/waiting-count.js';
import { RETRY_AFTER } from '../../../src/retry-after.js';
import type { RenderStore } from '../../../src/store/render-store.js';
import { createRenderRequester, Overloaded, QueueUnreachable } from '../../../src/use-cases/request-render.js';
import { listeningQueueEvents, testRenderJob } from '../../helpers/render-queue.js';
import { eventually } from '../../helpers/test-stack.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let commands: Redis;
let failures: FailureMemory;
let queue: Queue<RenderJob, RenderResult>;
let events: QueueEvents;
/** Waiters made by a test, closed after it (their waits then end with a 503, which nobody awaits). */
const waiters: RenderWaiter[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
  failures = createFailureMemory(commands);
  queue = new Queue<RenderJob, RenderResult>(QUEUE_NAME, { connection: { url: redis.url } });
  events = await listeningQueueEvents(redis.url);
});
afterEach(() => {
  for (const waiter of waiters.splice(0)) waiter.close();
  vi.restoreAllMocks();
});
afterAll(async () => {
  await events?.close();
  await queue?.close();
  commands?.disconnect();
  await redis?.stop();
});

/** The store as the requester reads it: `has` answers what the test says, and tells when it was asked. */
function storeWhere(has: (key: string) => boolean, onAsked: (key: string) => void = () => undefined): RenderStore {
  const store: Pick<RenderStore, 'has'> = {
    async has(key) {
      onAsked(key);
      return has(key);
    },
  };
  return store as RenderStore;
}

const NOTHING_STORED = storeWhere(() => false);

function requesterWith(
  overrides: Partial<Parameters<typeof createRenderRequester>[0]> = {},
): ReturnType<typeof createRenderRequester> & { waiter: RenderWaiter } {
  const waiter = overrides.waiter ?? createRenderWaiter(events, failures);
  waiters.push(waiter);
  // A test's own queue is a BullMQ Queue too (the requester itself needs only JobQueue's part of one).
  const useQueue = (overrides.queue as typeof queue | undefined) ?? queue;
  const requester = createRenderRequester({
    queue: useQueue,
    waiter,
    store: NOTHING_STORED,
    queueDepth: createQueueDepth(useQueue, { maxAgeMs: 0 }),
    waitingCount: createWaitingCount(commands),
    clientShares: createClientShares(commands),
    backgroundLane: createBackgroundLane(commands, { maxAgeMs: 60_000 }),
    workerCount: async () => 2,
    waitTimeoutMs: 10_000,
    maxWaitingRequests: 100,
    maxQueueDepth: 1_000,
    ...overrides,
  });
  return Object.assign(requester, { waiter });
}

/** Jobs waiting for a worker now, as the queue depth counts them. */
async function queuedJobs(): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

function expectOverloaded(error: unknown) {
  expect(error).toBeInstanceOf(Overloaded);
  expect(error).toMatchObject({ status: 503, retryAfterSeconds: RETRY_AFTER.overloaded });
}

describe('requesting a render', () => {
  it('adds one job whose id is the render key and whose data is exactly the job asked for', async () => {
    const job = testRenderJob();
    let added!: () => void;
    const storeAsked = new Promise<void>((resolve) => {
      added = resolve;
    });
    const client = new AbortController();
    // The store is asked again right after the job is added: by then the job is in Redis.
    const { request } = requesterWith({ store: storeWhere(() => false, added) });
    const outcome = request(job, client.signal);
    await storeAsked;
    const queued = await queue.getJob(job.key);
    expect(queued?.id).toBe(job.key);
    expect(queued?.name).toBe(JOB_NAME);
    expect(queued?.data).toStrictEqual(job);
    expect(queued?.opts).toMatchObject(RENDER_JOB_OPTIONS);
    client.abort();
    await expect(outcome).rejects.toBeInstanceOf(WaitAbandoned);
  }, 5_000);

  it('answers once the job completes, and a second request for the key in this process joins it without adding a job', async () => {
    const job = testRenderJob();
    const adds = vi.spyOn(queue, 'add');
    const { request } = requesterWith();
    const first = request(job, new AbortController().signal);
    const second = request(job, new AbortController().signal);
    const worker = new Worker<RenderJob, RenderResult>(
      QUEUE_NAME,
      async (_job: Job<RenderJob, RenderResult>) => ({ rendered: true, bytes: 1 }),
      {
        connection: { url: redis.url },
      },
    );
    try {
      expect(await Promise.all([first, second])).toEqual([
        { outcome: 'miss', streaming: null },
        { outcome: 'joined', streaming: null },
      ]);
    } finally {
      await worker.close();
    }
    expect(adds.mock.calls.filter(([, data]) => data.key === job.key)).toHaveLength(1);
  });

  it('a render that finished before the request listened is answered at once from the store', async () => {
    // Completed jobs are removed and their event may come before the wait: only the store can tell.
    const job = testRenderJob();
    const { request, waiter } = requesterWith({ store: storeWhere((key) => key === job.key), waitTimeoutMs: 2_000 });
    expect(await request(job, new AbortController().signal)).toEqual({ outcome: 'miss', streaming: null });
    expect(waiter.waiting).toBe(0);
  });

  it('refuses a miss at once with Overloaded once maxWaitingRequests requests wait in this process, adding no job', async () => {
    const { request, waiter } = requesterWith({ maxWaitingRequests: 1 });
    const client = new AbortController();
    const waiting = request(testRenderJob(), client.signal);
    expect(waiter.waiting).toBe(1);
    const refused = testRenderJob();
    expectOverloaded(await request(refused, new AbortController().signal).catch((error: unknown) => error));
    expect(await queue.getJob(refused.key)).toBeUndefined();
    expect(waiter.waiting).toBe(1);
    client.abort();
    await expect(waiting).rejects.toBeInstanceOf(WaitAbandoned);
  });

  it('refuses a miss with Overloaded once the queue holds maxQueueDepth jobs, adding no job and leaving no wait', async () => {
    await queue.add(JOB_NAME, testRenderJob(), { jobId: testRenderJob().key });
    const { request, waiter } = requesterWith({ maxQueueDepth: await queuedJobs() });
    const refused = testRenderJob();
    expectOverloaded(await request(refused, new AbortController().signal).catch((error: unknown) => error));
    expect(await queue.getJob(refused.key)).toBeUndefined();
    expect(waiter.waiting).toBe(0);
  });

  it('submit() adds the job without waiting, and refuses it with Overloaded past maxQueueDepth', async () => {
    const accepted = testRenderJob();
    await requesterWith().submit(accepted);
    expect((await queue.getJob(accepted.key))?.data).toStrictEqual(accepted);
    const refused = testRenderJob();
    expectOverloaded(
      await requesterWith({ maxQueueDepth: await queuedJobs() })
        .submit(refused)
        .catch((error: unknown) => error),
    );
    expect(await queue.getJob(refused.key)).toBeUndefined();
  });

  it("once the queue is full, a client that filled it gets Overloaded while another client's ask, below its fair share, is added", async () => {
    // A queue of its own that no worker takes from, holding two jobs at most.
    const ownQueue = new Queue<RenderJob, RenderResult>('fair-share-test', { connection: { url: redis.url } });
    const { request, waiter } = requesterWith({ queue: ownQueue, maxQueueDepth: 2 });
    /** Waits until `job` is in the queue, under its key, with exactly the data asked for. */
    const eventuallyQueued = async (job: RenderJob) => {
      const queued = await eventually(async () => ownQueue.getJob(job.key), `${job.key} to be queued`, 5_000);
      expect(queued.id).toBe(job.key);
      expect(queued.data).toStrictEqual(job);
    };
    const hog = new AbortController();
    const asks = (client: string, count: number, signal = new AbortController().signal) =>
      Array.from({ length: count }, () => {
        const job = testRenderJob();
        return { job, answer: request(job, signal, { client }).catch((error: unknown) => error) };
      });
    const filling = asks('10.0.0.1', 2, hog.signal);
    for (const { job } of filling) await eventuallyQueued(job);
    const [beyond] = asks('10.0.0.1', 1);
    expectOverloaded(await beyond!.answer);
    expect(await ownQueue.getJob(beyond!.job.key)).toBeUndefined();
    // Two clients now: each has a share of 2 ÷ 2; the newcomer has used none of it, and passes the full queue.
    const [newcomer] = asks('10.0.0.2', 1);
    await eventuallyQueued(newcomer!.job);
    // Its next one is past its share while the queue is full.
    const [again] = asks('10.0.0.2', 1);
    expectOverloaded(await again!.answer);
    expect(await ownQueue.count()).toBe(3);
    // The first client's waits end: it is counted out, and with none of its share used it may add one again.
    hog.abort();
    for (const { answer } of filling) expect(await answer).toBeInstanceOf(WaitAbandoned);
    const [back] = asks('10.0.0.1', 1);
    await eventuallyQueued(back!.job);
    expect(waiter.waiting).toBe(2);
    await ownQueue.obliterate({ force: true });
    await ownQueue.close();
  });

  it('a request that joined a wait adds the job again when it vanished from Redis (a failover, the last second of AOF)', async () => {
    const job = testRenderJob();
    const { request } = requesterWith();
    const first = new AbortController();
    const waiting = request(job, first.signal);
    const queued = await eventually(async () => queue.getJob(job.key), 'the job to be queued', 5_000);
    await queued.remove();
    const joiner = new AbortController();
    const joined = request(job, joiner.signal);
    const again = await eventually(async () => queue.getJob(job.key), 'the job to be added again', 5_000);
    expect(again.data).toStrictEqual(job);
    first.abort();
    joiner.abort();
    await expect(Promise.all([waiting, joined])).rejects.toBeInstanceOf(WaitAbandoned);
    await again.remove();
  });

  it('with Redis stalled (SIGSTOP), a miss gets a 503 within its wait limit, counted as waiting until then', async () => {
    const stalled = await startTestRedis();
    const connection = connectRedis(stalled.url, 'fail-fast', 'request-render-stall-test', { commandTimeoutMs: 300 });
    connection.on('error', () => undefined);
    const stallQueue = new Queue<RenderJob, RenderResult>(QUEUE_NAME, { connection });
    try {
      await stallQueue.waitUntilReady();
      const waitTimeoutMs = 1_000;
      const { request, waiter } = requesterWith({
        queue: stallQueue,
        waitTimeoutMs,
        waitingCount: createWaitingCount(connection),
        clientShares: createClientShares(connection),
      });
      process.kill(stalled.pid, 'SIGSTOP');
      const started = performance.now();
      const answer = request(testRenderJob(), new AbortController().signal, { client: '10.0.0.9' }).catch((error: unknown) => error);
      expect(waiter.waiting).toBe(1);
      const error = await answer;
      expect(error).toMatchObject({ status: 503 });
      expect(performance.now() - started).toBeLessThan(waitTimeoutMs + 1_000);
      expect(waiter.waiting).toBe(0);
    } finally {
      process.kill(stalled.pid, 'SIGCONT');
      await stallQueue.close();
      connection.disconnect();
      await stalled.stop();
    }
  });

  describe('with Redis out of reach', () => {
    /** The Redis that goes away, until it is stopped (each is stopped once). */
    let lost: TestRedis | undefined;
    let connection: Redis;
    let cutOff: Queue<RenderJob, RenderResult>;
    afterEach(async () => {
      await cutOff?.close();
      connection?.disconnect();
      await stopLostRedis();
    });

    async function stopLostRedis(): Promise<void> {
      const stopping = lost;
      lost = undefined;
      await stopping?.stop();
    }

    /** A Queue on the request path's fail-fast connection, as the API makes it, to a Redis that is up for now. */
    async function queueToRedisAboutToStop(): Promise<void> {
      lost = await startTestRedis();
      connection = connectRedis(lost.url, 'fail-fast', 'request-render-test');
      connection.on('error', () => undefined);
      cutOff = new Queue<RenderJob, RenderResult>(QUEUE_NAME, { connection });
      cutOff.on('error', () => undefined);
      await cutOff.waitUntilReady();
    }

    for (const [what, maxAgeMs] of [
      ['the queue depth cannot be read', 0],
      ['the depth was read a moment ago but the job cannot be added', 60_000],
    ] as const) {
      it(`answers QueueUnreachable (503) at once, to the request and to those joined on its key, when ${what}`, async () => {
        await queueToRedisAboutToStop();
        const queueDepth = createQueueDepth(cutOff, { maxAgeMs });
        // A reading taken while Redis is up, still fresh after it stops: then only add() meets the outage.
        await queueDepth.current();
        await stopLostRedis();
        const requester = requesterWith({ queue: cutOff, queueDepth });
        const job = testRenderJob();
        const started = performance.now();
        const answers = await Promise.all(
          [1, 2].map(() => requester.request(job, new AbortController().signal).catch((error: unknown) => error)),
        );
        expect(performance.now() - started).toBeLessThan(1_000);
        for (const error of answers) {
          expect(error).toBeInstanceOf(QueueUnreachable);
          expect(error).toMatchObject({ status: 503, retryAfterSeconds: RETRY_AFTER.queueUnreachable });
        }
        expect(requester.waiter.waiting).toBe(0);
        await expect(requester.submit(testRenderJob())).rejects.toBeInstanceOf(QueueUnreachable);
      });
    }
  });
});
