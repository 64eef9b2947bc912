// The render waiter on a real Redis (a private redis-server for this file): real BullMQ events from a real
// Worker whose processor the tests write, and the real failure memory.
import { type Job, Queue, type QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Unavailable, Unprocessable } from '../../../src/errors.js';
import { createFailureMemory, type FailureMemory } from '../../../src/queue/failure-memory.js';
import { QUEUE_NAME } from '../../../src/queue/render-job.js';
import { createRenderStreams } from '../../../src/queue/render-streams.js';
import { createRenderWaiter, type RenderWaiter, WaitAbandoned, WaitTimedOut } from '../../../src/queue/render-waiter.js';
import { type RenderFailure, UNEXPLAINED_FAILURE } from '../../../src/render/render-failure.js';
import { RETRY_AFTER } from '../../../src/retry-after.js';
import { freshKey, listeningQueueEvents } from '../../helpers/render-queue.js';
import { eventually } from '../../helpers/test-stack.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';

/** What the test worker does with a job: complete it (the default), or fail it the way the tests say. */
interface TestJobData {
  /** Recorded in the failure memory, then the job fails for good (as the real processor does). */
  failure?: RenderFailure;
  /** Fails for good without a record, with an internal message (a worker that crashed mid-render). */
  crash?: true;
  /** Fails the first attempt on a passing fault; a later attempt completes. */
  failFirstAttempt?: true;
  /** Announces its render as being written into this file (as the real processor does), then takes `holdMs`. */
  stream?: string;
  holdMs?: number;
}

const WAIT = { timeoutMs: 10_000 };

let redis: TestRedis;
let commands: Redis;
let failures: FailureMemory;
let queue: Queue<TestJobData>;
let events: QueueEvents;
let worker: Worker<TestJobData>;
let waiter: RenderWaiter;
/** How many times the test worker ran each job. */
const attemptsRun = new Map<string, number>();

beforeAll(async () => {
  redis = await startTestRedis();
  commands = new Redis(redis.url);
  failures = createFailureMemory(commands);
  queue = new Queue<TestJobData>(QUEUE_NAME, { connection: { url: redis.url } });
  events = await listeningQueueEvents(redis.url);
  worker = new Worker<TestJobData>(
    QUEUE_NAME,
    async (job: Job<TestJobData>) => {
      attemptsRun.set(job.id!, (attemptsRun.get(job.id!) ?? 0) + 1);
      const { failure, crash, failFirstAttempt, stream, holdMs } = job.data;
      if (stream) {
        await createRenderStreams(commands).announce(job.id!, stream, 10_000);
        await job.updateProgress(0);
      }
      if (holdMs) await new Promise((resolve) => setTimeout(resolve, holdMs));
      if (failure) {
        await failures.record(job.id!, failure);
        throw new UnrecoverableError(failure.detail);
      }
      if (crash) throw new UnrecoverableError('ENOENT /srv/media/secret/path: internals never reach a client');
      if (failFirstAttempt && job.attemptsMade === 0) throw new Error('a passing fault');
      return { rendered: true };
    },
    { connection: { url: redis.url } },
  );
  await worker.waitUntilReady();
});
afterAll(async () => {
  await worker?.close();
  await events?.close();
  await queue?.close();
  commands?.disconnect();
  await redis?.stop();
});
beforeEach(() => {
  waiter = createRenderWaiter(events, failures);
});
afterEach(() => {
  waiter.close();
});

/** Runs a job for `key` on the test worker, failing at most once (unless the data says otherwise). */
function addJob(key: string, data: TestJobData = {}, attempts = 1) {
  return queue.add('render', data, { jobId: key, attempts, removeOnComplete: true, removeOnFail: true });
}

function neverAborted(): AbortSignal {
  return new AbortController().signal;
}

describe('render waiter', () => {
  it('resolves every request waiting on a key when its job completes', async () => {
    const key = freshKey();
    const tickets = [1, 2, 3].map(() => waiter.wait(key, { ...WAIT, signal: neverAborted() }));
    expect(waiter.waiting).toBe(3);
    await addJob(key);
    await Promise.all(tickets.map((ticket) => ticket.done));
    expect(waiter.waiting).toBe(0);
  });

  it('a second wait on the same key joins the first; a wait on another key does not', () => {
    const key = freshKey();
    expect(waiter.wait(key, { ...WAIT, signal: neverAborted() }).joined).toBe(false);
    expect(waiter.wait(key, { ...WAIT, signal: neverAborted() }).joined).toBe(true);
    expect(waiter.wait(freshKey(), { ...WAIT, signal: neverAborted() }).joined).toBe(false);
    expect(waiter.waiting).toBe(3);
  });

  it('a wait past its timeout rejects with WaitTimedOut (503 + Retry-After) and no longer counts as waiting', async () => {
    const ticket = waiter.wait(freshKey(), { timeoutMs: 100, signal: neverAborted() });
    expect(waiter.waiting).toBe(1);
    const error = await ticket.done.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WaitTimedOut);
    expect(error).toBeInstanceOf(Unavailable);
    expect(error).toMatchObject({ status: 503, retryAfterSeconds: RETRY_AFTER.stillRendering });
    expect(waiter.waiting).toBe(0);
  });

  it('a client that goes away ends its own wait only: the other requests on the key still get the render', async () => {
    const key = freshKey();
    const client = new AbortController();
    const leaving = waiter.wait(key, { ...WAIT, signal: client.signal });
    const staying = waiter.wait(key, { ...WAIT, signal: neverAborted() });
    client.abort();
    await expect(leaving.done).rejects.toBeInstanceOf(WaitAbandoned);
    expect(waiter.waiting).toBe(1);
    await addJob(key);
    await staying.done;
    expect(waiter.waiting).toBe(0);
  });

  it('a request whose client is already gone is abandoned at once', async () => {
    const client = new AbortController();
    client.abort();
    await expect(waiter.wait(freshKey(), { ...WAIT, signal: client.signal }).done).rejects.toBeInstanceOf(WaitAbandoned);
    expect(waiter.waiting).toBe(0);
  });

  it('does not see a job that completed before the wait began: that wait runs to its timeout', async () => {
    // The event is gone once delivered, and completed jobs are removed: this is why the requester checks the
    // store after adding its job (request-render.ts), and why it registers its wait before adding.
    const key = freshKey();
    const completed = new Promise<void>((resolve) => {
      const onCompleted = ({ jobId }: { jobId: string }) => {
        if (jobId !== key) return;
        events.off('completed', onCompleted);
        resolve();
      };
      events.on('completed', onCompleted);
    });
    await addJob(key);
    await completed;
    await expect(waiter.wait(key, { timeoutMs: 300, signal: neverAborted() }).done).rejects.toBeInstanceOf(WaitTimedOut);
  });

  const failedJobs = [
    {
      how: 'failed for good on its source answer 422 with the recorded detail',
      data: { failure: { status: 422, detail: 'The source ends before 20 s.', permanent: true } } satisfies TestJobData,
      expected: { type: Unprocessable, status: 422, detail: 'The source ends before 20 s.' },
    },
    {
      how: 'failed on a passing fault answer 503 with the recorded detail and the renderFailed Retry-After',
      data: { failure: { status: 503, detail: 'The render ran out of time; retry.', permanent: false } } satisfies TestJobData,
      expected: {
        type: Unavailable,
        status: 503,
        detail: 'The render ran out of time; retry.',
        retryAfterSeconds: RETRY_AFTER.renderFailed,
      },
    },
    {
      how: 'failed without a record (a crashed worker) answer the unexplained passing fault, never the error text',
      data: { crash: true } satisfies TestJobData,
      expected: { type: Unavailable, status: 503, detail: UNEXPLAINED_FAILURE.detail, retryAfterSeconds: RETRY_AFTER.renderFailed },
    },
  ];
  for (const { how, data, expected } of failedJobs) {
    it(`the requests waiting on a job that ${how}`, async () => {
      const { type, ...fields } = expected;
      const key = freshKey();
      const tickets = [waiter.wait(key, { ...WAIT, signal: neverAborted() }), waiter.wait(key, { ...WAIT, signal: neverAborted() })];
      await addJob(key, data);
      for (const ticket of tickets) {
        const error = await ticket.done.catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(type);
        expect(error).toMatchObject(fields);
      }
      expect(waiter.waiting).toBe(0);
    });
  }

  it('a failed attempt that is retried does not end the waits: the later attempt answers them', async () => {
    const key = freshKey();
    const ticket = waiter.wait(key, { ...WAIT, signal: neverAborted() });
    await addJob(key, { failFirstAttempt: true }, 2);
    await ticket.done;
    expect(attemptsRun.get(key)).toBe(2);
  });

  it('settle(key, failure) ends the waits on that key only, with that failure', async () => {
    const key = freshKey();
    const settled = waiter.wait(key, { ...WAIT, signal: neverAborted() });
    waiter.wait(freshKey(), { ...WAIT, signal: neverAborted() });
    const failure = new Unavailable('Redis is down.', 'queueUnreachable');
    waiter.settle(key, failure);
    await expect(settled.done).rejects.toBe(failure);
    expect(waiter.waiting).toBe(1);
  });

  it('close() ends every wait with a 503 and refuses later waits at once', async () => {
    const tickets = [
      waiter.wait(freshKey(), { ...WAIT, signal: neverAborted() }),
      waiter.wait(freshKey(), { ...WAIT, signal: neverAborted() }),
    ];
    waiter.close();
    for (const ticket of tickets) {
      await expect(ticket.done).rejects.toMatchObject({ status: 503, retryAfterSeconds: RETRY_AFTER.shuttingDown });
    }
    expect(waiter.waiting).toBe(0);
    const later = waiter.wait(freshKey(), { ...WAIT, signal: neverAborted() });
    const started = performance.now();
    await expect(later.done).rejects.toBeInstanceOf(Unavailable);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(later.joined).toBe(false);
  });
});

describe('render waiter, for requests that can take a render as it is written', () => {
  let streaming: RenderWaiter;
  beforeEach(() => {
    streaming = createRenderWaiter(events, failures, createRenderStreams(commands));
  });
  afterEach(() => {
    streaming.close();
  });

  it("tells a waiter that can stream the file its render is written into, once, on the job's first progress; every waiter gets the end", async () => {
    const key = freshKey();
    const told: string[] = [];
    const streamer = streaming.wait(key, { ...WAIT, signal: neverAborted(), onStreaming: (file) => told.push(file) });
    const plain = streaming.wait(key, { ...WAIT, signal: neverAborted() });
    await addJob(key, { stream: 'being-written.mp3', holdMs: 300 });
    await eventually(async () => (told.length > 0 ? true : undefined), 'the waiter to be told');
    expect(told).toEqual(['being-written.mp3']);
    expect(streaming.waiting).toBe(2);
    await Promise.all([streamer.done, plain.done]);
    expect(told).toEqual(['being-written.mp3']);
  });

  it("once told, a wait no longer times out (the stream's own limits take over); a wait that is not told does", async () => {
    const key = freshKey();
    let told = false;
    const streamer = streaming.wait(key, { timeoutMs: 200, signal: neverAborted(), onStreaming: () => (told = true) });
    const plain = streaming.wait(key, { timeoutMs: 200, signal: neverAborted() });
    await addJob(key, { stream: 'slow.mp3', holdMs: 600 });
    await expect(plain.done).rejects.toBeInstanceOf(WaitTimedOut);
    await streamer.done;
    expect(told).toBe(true);
  });

  it('a waiter that comes once the file is known in this process is told at once, before the render ends', async () => {
    const key = freshKey();
    let first = '';
    streaming.wait(key, { ...WAIT, signal: neverAborted(), onStreaming: (file) => (first = file) });
    await addJob(key, { stream: 'known.mp3', holdMs: 800 });
    await eventually(async () => (first ? true : undefined), 'the first waiter to be told');
    let late = '';
    const ticket = streaming.wait(key, { ...WAIT, signal: neverAborted(), onStreaming: (file) => (late = file) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(late).toBe('known.mp3');
    expect(streaming.waiting).toBe(2);
    await ticket.done;
  });

  it('a join of a render under way (its file read with the count) tells the waiters of the key', () => {
    const key = freshKey();
    const told: string[] = [];
    streaming.wait(key, { ...WAIT, signal: neverAborted(), onStreaming: (file) => told.push(file) });
    streaming.streaming(key, 'joined.mp3');
    streaming.streaming(key, 'joined.mp3');
    expect(told).toEqual(['joined.mp3']);
  });
});
