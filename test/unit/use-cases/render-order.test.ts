// The order the queue serves asks in, on a real Redis with a real BullMQ Worker taking the jobs: a client
// waiting now before asynchronous asks before background work (warming), urgency within a class, and a
// queued background render moved ahead when a waiting client asks for the same segment.
import { Queue, type QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFailureMemory } from '../../../src/queue/failure-memory.js';
import { createQueueDepth } from '../../../src/queue/queue-depth.js';
import { QUEUE_NAME, type RenderJob, type RenderResult } from '../../../src/queue/render-job.js';
import { BACKGROUND_URGENCY, DEFAULT_URGENCY, jobPriorityOf, WAITER_LEVELS, withWaiters } from '../../../src/queue/render-priority.js';
import { createRenderWaiter, type RenderWaiter } from '../../../src/queue/render-waiter.js';
import { createBackgroundLane } from '../../../src/queue/background-lane.js';
import { createClientShares } from '../../../src/queue/client-shares.js';
import { createWaitingCount } from '../../../src/queue/waiting-count.js';
import type { RenderStore } from '../../../src/store/render-store.js';
import { createRenderRequester } from '../../../src/use-cases/request-render.js';
import { listeningQueueEvents, testRenderJob } from '../../helpers/render-queue.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

let redis: TestRedis;
let commands: Redis;
let queue: Queue<RenderJob, RenderResult>;
let events: QueueEvents;
let waiter: RenderWaiter;
let worker: Worker<RenderJob, RenderResult> | undefined;

const NOTHING_STORED = { has: async () => false } as unknown as RenderStore;
const background = jobPriorityOf({ waiting: true, urgency: BACKGROUND_URGENCY });
const asynchronous = jobPriorityOf({ waiting: false, urgency: DEFAULT_URGENCY });
const listener = jobPriorityOf({ waiting: true, urgency: DEFAULT_URGENCY });

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
  queue = new Queue<RenderJob, RenderResult>(QUEUE_NAME, { connection: { url: redis.url } });
  events = await listeningQueueEvents(redis.url);
  waiter = createRenderWaiter(events, createFailureMemory(commands));
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  await queue.obliterate({ force: true });
});
afterAll(async () => {
  waiter?.close();
  await events?.close();
  await queue?.close();
  commands?.disconnect();
  await redis?.stop();
});

const requester = (overrides: Partial<Parameters<typeof createRenderRequester>[0]> = {}) =>
  createRenderRequester({
    queue,
    waiter,
    store: NOTHING_STORED,
    queueDepth: createQueueDepth(queue, { maxAgeMs: 0 }),
    waitingCount: createWaitingCount(commands),
    clientShares: createClientShares(commands),
    backgroundLane: createBackgroundLane(commands, { maxAgeMs: 60_000 }),
    workerCount: async () => 2,
    waitTimeoutMs: 20_000,
    maxWaitingRequests: 100,
    maxQueueDepth: 1_000,
    ...overrides,
  });

/** Starts one worker on the paused queue's backlog; resolves with the keys in the order it took them. */
async function drain(expected: number): Promise<string[]> {
  const taken: string[] = [];
  const all = new Promise<void>((resolve) => {
    worker = new Worker<RenderJob, RenderResult>(
      QUEUE_NAME,
      async (job) => {
        taken.push(job.data.key);
        if (taken.length === expected) resolve();
        return { rendered: true, bytes: 1 };
      },
      { connection: { url: redis.url }, concurrency: 1 },
    );
  });
  await queue.resume();
  await all;
  return taken;
}

describe('the order of queued renders', { sequential: true }, () => {
  it('serves a waiting client first, then asynchronous asks, then background work, each class in its order', async () => {
    await queue.pause();
    const asks = requester();
    const warm = [testRenderJob(), testRenderJob(), testRenderJob()];
    const queued = testRenderJob();
    const listening = testRenderJob();
    for (const job of warm) await asks.submit(job, background);
    await asks.submit(queued, asynchronous);
    const answered = asks.request(listening, new AbortController().signal, { priority: listener });
    // The request adds its job before it waits: wait until it is in the queue.
    for (let i = 0; i < 100 && !(await queue.getJob(listening.key)); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(await drain(5)).toEqual([listening.key, queued.key, ...warm.map((job) => job.key)]);
    await expect(answered).resolves.toEqual({ outcome: 'miss', streaming: null });
  });

  it('within a class, a more urgent ask goes first; equal ones in the order they came', async () => {
    await queue.pause();
    const asks = requester();
    const [first, second, urgent] = [testRenderJob(), testRenderJob(), testRenderJob()];
    await asks.submit(first, asynchronous);
    await asks.submit(second, asynchronous);
    await asks.submit(urgent, jobPriorityOf({ waiting: false, urgency: 0 }));
    expect(await drain(3)).toEqual([urgent.key, first.key, second.key]);
  });

  it('a waiting client that asks for a segment queued by a warm moves its render ahead of the rest of the warm', async () => {
    await queue.pause();
    const asks = requester();
    const warm = [testRenderJob(), testRenderJob(), testRenderJob()];
    for (const job of warm) await asks.submit(job, background);
    const wanted = warm[2]!;
    expect((await queue.getJob(wanted.key))?.priority).toBe(background);
    const answered = asks.request(wanted, new AbortController().signal, { priority: listener });
    for (let i = 0; i < 100 && (await queue.getJob(wanted.key))?.priority !== listener; i += 1) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await queue.getJob(wanted.key))?.priority).toBe(listener);
    expect(await drain(3)).toEqual([wanted.key, warm[0]!.key, warm[1]!.key]);
    await expect(answered).resolves.toEqual({ outcome: 'miss', streaming: null });
  });

  it('among waiting clients of one urgency, the render more of them wait for goes first', async () => {
    await queue.pause();
    const asks = requester();
    const [one, three, alsoOne] = [testRenderJob(), testRenderJob(), testRenderJob()];
    const signal = new AbortController().signal;
    const queuedAs = async (key: string, priority: number) => {
      for (let i = 0; i < 100 && (await queue.getJob(key))?.priority !== priority; i += 1) await new Promise((r) => setTimeout(r, 20));
      expect((await queue.getJob(key))?.priority).toBe(priority);
    };
    const answers = [asks.request(one, signal, { priority: listener })];
    await queuedAs(one.key, listener);
    answers.push(asks.request(three, signal, { priority: listener }));
    await queuedAs(three.key, listener);
    // Two more clients join it, one after the other: each moves it ahead by one waiter.
    answers.push(asks.request(three, signal, { priority: listener }));
    await queuedAs(three.key, withWaiters(listener, 2));
    answers.push(asks.request(three, signal, { priority: listener }));
    await queuedAs(three.key, withWaiters(listener, 3));
    answers.push(asks.request(alsoOne, signal, { priority: listener }));
    await queuedAs(alsoOne.key, listener);
    expect(await drain(3)).toEqual([three.key, one.key, alsoOne.key]);
    expect((await Promise.all(answers)).map((answer) => answer.outcome)).toEqual(['miss', 'miss', 'joined', 'joined', 'miss']);
  });

  it("a warm's renders wait for a place in the background lane (one fewer than the workers), a listener's is added at once", async () => {
    await queue.pause();
    const lane = createBackgroundLane(commands, { maxAgeMs: 60_000 });
    const asks = requester({ backgroundLane: lane });
    const signal = new AbortController().signal;
    const [first, second, listening] = [testRenderJob(), testRenderJob(), testRenderJob()];
    const answers = [asks.request(first, signal, { priority: background }), asks.request(second, signal, { priority: background })];
    for (let i = 0; i < 100 && !(await queue.getJob(first.key)) && !(await queue.getJob(second.key)); i += 1) {
      await new Promise((r) => setTimeout(r, 20));
    }
    answers.push(asks.request(listening, signal, { priority: listener }));
    for (let i = 0; i < 100 && !(await queue.getJob(listening.key)); i += 1) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // the second background ask keeps looking for a place
    const queued = (await queue.getJobs(['prioritized', 'wait'])).map((job) => job.id);
    expect(queued).toContain(listening.key);
    // One of the two background renders holds the one place; the other is not in the queue yet.
    const inLane = queued.includes(first.key) ? first : second;
    const waiting = inLane === first ? second : first;
    expect(queued).not.toContain(waiting.key);
    expect(await drain(2)).toEqual([listening.key, inLane.key]);
    // The render ended (a worker frees its place; the test's worker does not): the other one is added, and
    // the still-running worker renders it.
    await lane.free(inLane.key);
    expect(await answers[inLane === first ? 1 : 0]).toEqual({ outcome: 'miss', streaming: null });
    await lane.free(waiting.key);
  });

  it('a less pressing ask for a queued render never moves it back', async () => {
    await queue.pause();
    const asks = requester();
    const job = testRenderJob();
    await asks.submit(job, listener);
    await asks.submit(job, background);
    expect((await queue.getJob(job.key))?.priority).toBe(listener);
  });
});

describe('job priorities', () => {
  it('keep the classes apart whatever the urgency and the waiters: every waiting client before every asynchronous ask before background work', () => {
    const waitingClients = [0, 1, 2, 3, 4, 5, 6].flatMap((urgency) =>
      [1, 2, WAITER_LEVELS, 1_000].map((waiters) => withWaiters(jobPriorityOf({ waiting: true, urgency }), waiters)),
    );
    const asyncAsks = [0, 1, 2, 3, 4, 5, 6].map((urgency) => withWaiters(jobPriorityOf({ waiting: false, urgency }), 5));
    expect(Math.max(...waitingClients)).toBeLessThan(Math.min(...asyncAsks));
    expect(Math.max(...asyncAsks)).toBeLessThan(background);
    expect(Math.min(...waitingClients)).toBe(1);
  });

  it('order waiting clients by urgency first, then by waiters, counting up to WAITER_LEVELS alike', () => {
    const at = (urgency: number, waiters: number) => withWaiters(jobPriorityOf({ waiting: true, urgency }), waiters);
    expect(at(2, WAITER_LEVELS)).toBeLessThan(at(2, 2));
    expect(at(2, 2)).toBeLessThan(at(2, 1));
    expect(at(1, 1)).toBeLessThan(at(2, WAITER_LEVELS));
    expect(at(2, WAITER_LEVELS + 50)).toBe(at(2, WAITER_LEVELS));
    expect(at(2, 0)).toBe(at(2, 1));
  });
});
