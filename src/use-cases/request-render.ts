// Owns the miss path: refuse at once past the limits (waiting requests here, queued jobs overall), register
// the wait, add the job whose id is the render key (a job already queued or running under that id is
// joined, not duplicated), then check the store again in case the render finished before we were
// listening (BullMQ issues #383 and #85), and wait.
import type { Job, JobsOptions } from 'bullmq';
import { Unavailable } from '../errors.js';
import { type BackgroundLane, backgroundPlaces } from '../queue/background-lane.js';
import type { ClientShares } from '../queue/client-shares.js';
import type { QueueDepth } from '../queue/queue-depth.js';
import { JOB_NAME, RENDER_JOB_OPTIONS, type RenderJob } from '../queue/render-job.js';
import { DEFAULT_URGENCY, isBackgroundPriority, isInteractivePriority, jobPriorityOf, withWaiters } from '../queue/render-priority.js';
import { type GoneSignal, type RenderWaiter, WaitAbandoned, type WaitTicket } from '../queue/render-waiter.js';
import type { WaitingCount } from '../queue/waiting-count.js';
import type { RenderStore } from '../store/render-store.js';

/** Too many requests already wait, or too many jobs are queued: a new miss is refused at once. */
export class Overloaded extends Unavailable {}

/** Redis cannot be reached from the request path (the connection fails fast): 503 at once. */
export class QueueUnreachable extends Unavailable {
  constructor(cause: unknown) {
    super('The render queue (Redis) cannot be reached; retry shortly.', 'queueUnreachable', { cause });
  }
}

export type MissOutcome = 'miss' | 'joined';

/** A render that is being written: its file (in the store's temp folder), and its end. */
export interface StreamingRender {
  fileName: string;
  /** Resolves once the render is published; rejects as the wait would (failure, client gone). */
  done: Promise<void>;
}

export interface RequestedRender {
  outcome: MissOutcome;
  /** Set when the render was being written before it was published, for an ask that can stream it. */
  streaming: StreamingRender | null;
}

export interface RequestOptions {
  /**
   * The job's priority for one waiting client (render-priority.ts): a waiting client's, of default urgency,
   * unless given. More clients waiting on the render move it ahead within its urgency.
   */
  priority?: number;
  /** The asker can take the render as it is written: answer as soon as it starts, not once it ends. */
  streamable?: boolean;
  /** Who asks (an address): a render it adds counts against its share of the queue (client-shares.ts). */
  client?: string;
}

/** What a job on the render queue carries at least: its key, which is its id. */
export interface KeyedJob {
  key: string;
}

/** The part of BullMQ's Queue an ask uses, for any payload type added to it. */
export interface JobQueue<Data extends KeyedJob> {
  add(name: string, data: Data, options: JobsOptions): Promise<unknown>;
  getJob(id: string): Promise<Pick<Job, 'priority' | 'changePriority'> | undefined>;
  toKey(type: string): string;
}

export interface RenderRequester<Data extends KeyedJob = RenderJob> {
  /**
   * Resolves once the key is in the store or, for a streamable ask, once its render is being written.
   * Rejects with a ServiceError (422/503) or WaitAbandoned.
   */
  request(data: Data, signal: GoneSignal, options?: RequestOptions): Promise<RequestedRender>;
  /**
   * Adds the job without waiting on it (an asynchronous render: its status is read later). Rejects with
   * Overloaded past the queue's limit, or Unavailable when Redis cannot be reached. `priority`: an
   * asynchronous ask's, of default urgency, unless given.
   */
  submit(data: Data, priority?: number): Promise<void>;
}

const WAITING_PRIORITY = jobPriorityOf({ waiting: true, urgency: DEFAULT_URGENCY });
/** How often a background ask looks again for a place in the lane. */
const LANE_POLL_MS = 50;
const ASYNC_PRIORITY = jobPriorityOf({ waiting: false, urgency: DEFAULT_URGENCY });

/** One handler for every mark of a promise as handled (a closure per request would cost bytes per waiter). */
const ignore = () => undefined;

/**
 * `jobName` and `store`: what the jobs are (render, unless given) and where their output is found once made
 * (peaks use the same queue, limits and waiters: use-cases/obtain-peaks.ts).
 */
export function createRenderRequester<Data extends KeyedJob = RenderJob>(deps: {
  queue: JobQueue<Data>;
  jobName?: string;
  waiter: RenderWaiter;
  store: Pick<RenderStore, 'has'>;
  queueDepth: QueueDepth;
  /** Who waits on each render, across API processes: a render all its waiters left is skipped. */
  waitingCount: WaitingCount;
  /** Each client's share of the queue, across API processes. */
  clientShares: ClientShares;
  /** Places for background renders, so one worker stays free for listeners (background-lane.ts). */
  backgroundLane: BackgroundLane;
  /** Workers connected now (cached): the lane has one place fewer. */
  workerCount: () => Promise<number>;
  waitTimeoutMs: number;
  maxWaitingRequests: number;
  maxQueueDepth: number;
}): RenderRequester<Data> {
  const { queue, waiter, store, queueDepth, waitingCount, clientShares, backgroundLane, workerCount } = deps;

  /**
   * Moves a queued job ahead to `priority` when this ask is more pressing than the one that queued it (a
   * listener joining a warm's render). Only an order: a failure to read or change it is not the ask's.
   * `queuedPriority`: the job's priority as read before the add (null: no job was queued), when known.
   */
  async function raise(key: string, priority: number, queuedPriority?: number | null): Promise<void> {
    // Known already (a waiting request peeks with its count): no job, or one at least as pressing.
    if (queuedPriority !== undefined && (queuedPriority === null || queuedPriority <= priority)) return;
    try {
      const job = await queue.getJob(key);
      if (job && job.priority > priority) await job.changePriority({ priority });
    } catch {
      // the job finished or went away meanwhile, or Redis is gone: the render keeps its place
    }
  }

  /**
   * Adds the job unless the queue is full (the job id is the key: an existing job is joined, and raised).
   * A waiting `client`'s new render counts against its share of the queue; once the queue is full, only a
   * client below its share still adds one (client-shares.ts). Resolves true when the client was counted.
   */
  async function addJob(data: Data, priority: number, queuedPriority?: number | null, client?: string): Promise<boolean> {
    let admitted: boolean;
    let counted = false;
    try {
      admitted = await queueDepth.admit(deps.maxQueueDepth);
      if (client !== undefined && queuedPriority === null) {
        counted = (await clientShares.countIn(client, deps.maxQueueDepth, { onlyBelowShare: !admitted })).counted;
        admitted ||= counted;
      }
      if (admitted) await queue.add(deps.jobName ?? JOB_NAME, data, { ...RENDER_JOB_OPTIONS, jobId: data.key, priority });
    } catch (error) {
      if (counted) void clientShares.countOut(client!).catch(() => undefined);
      throw new QueueUnreachable(error);
    }
    if (!admitted) throw new Overloaded(`${deps.maxQueueDepth} renders are already queued; retry shortly.`, 'overloaded');
    // An asynchronous or background ask owns its render: it is made even when no one waits for it.
    if (!isInteractivePriority(priority)) await waitingCount.own(data.key).catch(() => undefined);
    // add() keeps a job already queued under this id as it is, its priority too.
    await raise(data.key, priority, queuedPriority);
    return counted;
  }

  /** Adds the job; a failure ends the wait of this key's requests. */
  async function enqueue(
    data: Data,
    priority: number,
    queuedPriority: number | null,
    client?: string,
  ): Promise<{ added: boolean; shareCounted: boolean }> {
    return addJob(data, priority, queuedPriority, client).then(
      (shareCounted) => ({ added: true, shareCounted }),
      (error: Unavailable) => {
        waiter.settle(data.key, error);
        return { added: false, shareCounted: false };
      },
    );
  }

  /**
   * Waits until `key`'s background render holds a place in the lane (background-lane.ts); false when the
   * request's wait ended first (it timed out or its client left). A lane Redis cannot answer lets it pass:
   * adding the job then fails the way every miss does with Redis gone.
   */
  async function placeInLane(key: string, wait: Promise<void>): Promise<boolean> {
    let waitEnded = false;
    wait.then(
      () => (waitEnded = true),
      () => (waitEnded = true),
    );
    try {
      while (!(await backgroundLane.take(key, backgroundPlaces(await workerCount())))) {
        if (waitEnded) return false;
        await new Promise((resolve) => setTimeout(resolve, LANE_POLL_MS));
      }
    } catch {
      // passes: see above
    }
    return true;
  }

  /** What an ask counted in Redis, to be counted out once both the ask and its wait have ended. */
  interface AskCounts {
    /** This request is counted among the key's waiters (waiting-count.ts). */
    counted: boolean;
    /** The render this request added counts against its client's share (client-shares.ts). */
    shareCounted: boolean;
  }

  /** Keys whose first ask in this process is adding their job now (from its count to add()'s answer). */
  const adding = new Set<string>();

  /**
   * The Redis side of a waiting request: counts it in, places and follows the render, and adds its job when
   * this request is the first to wait on the key here (a job already queued or running is joined). A request
   * that joined a wait in this process adds the job again when it vanished (a Redis failover, the last
   * second lost by AOF): it found no job although the first ask had added it before this one was counted
   * (one connection: Redis reads commands in order), and the store does not hold the render. add() under the
   * same id is idempotent. A failure to add ends the wait of every request on the key.
   */
  async function ask(data: Data, ticket: WaitTicket, priority: number, client: string | undefined, counts: AskCounts): Promise<void> {
    const addedBefore = ticket.joined && !adding.has(data.key);
    if (!ticket.joined) adding.add(data.key);
    try {
      // Counted in before the job is added, so a worker never skips a render this request waits for.
      const joined = await waitingCount.joined(data.key, queue.toKey(data.key));
      counts.counted = joined.counted;
      // Among waiting clients' renders of one urgency, more waiters go first (render-priority.ts).
      const placed = withWaiters(priority, joined.waiters);
      // A render under way when this request came: the waiter tells every waiter of the key that can stream.
      if (joined.streamFile) waiter.streaming(data.key, joined.streamFile);
      if (ticket.joined) {
        const vanished = addedBefore && joined.counted && !joined.jobExists && !(await store.has(data.key));
        if (!vanished) return void raise(data.key, placed, joined.queuedPriority);
      }
      // A new background render first waits for a place in its lane (none left: the wait ended first).
      const laneFirst = !ticket.joined && isBackgroundPriority(placed) && joined.queuedPriority === null;
      if (laneFirst && !(await placeInLane(data.key, ticket.done))) return;
      const enqueued = await enqueue(data, placed, joined.queuedPriority, client);
      counts.shareCounted = enqueued.shareCounted;
      if (laneFirst && !enqueued.added) void backgroundLane.free(data.key).catch(() => undefined);
      // Completed jobs are removed at once, so a render that finished before add() shows only in the store.
      if (await store.has(data.key)) waiter.settle(data.key);
    } finally {
      if (!ticket.joined) adding.delete(data.key);
    }
  }

  return {
    async submit(data, priority = ASYNC_PRIORITY) {
      await addJob(data, priority);
    },
    request(data, signal, { priority = WAITING_PRIORITY, streamable = false, client } = {}) {
      if (waiter.waiting >= deps.maxWaitingRequests) {
        return Promise.reject(
          new Overloaded(`${deps.maxWaitingRequests} requests are already waiting on renders; retry shortly.`, 'overloaded'),
        );
      }
      // One promise and a few handlers per request, no Promise.race or allSettled: with 10,000 waiting,
      // each promise, reaction and closure a request keeps costs megabytes (issue 15).
      return new Promise<RequestedRender>((answer, fail) => {
        // The end of the wait or of the ask (whichever fails first), for the stream of a streamable ask:
        // made once its render starts being written, not kept by every request still waiting for that.
        let endDone: (failure?: unknown) => void = ignore;
        const stream = (fileName: string) => {
          const done = new Promise<void>((resolve, reject) => {
            endDone = (failure) => (failure === undefined ? resolve() : reject(failure));
          });
          done.catch(ignore); // the stream reads the failure
          answer({ outcome, streaming: { fileName, done } });
        };
        // Registered before add(): a completion can never slip between adding and listening. A request that
        // joins a wait in this process adds no job, so only the first one for a key meets the queue's limit.
        // Told after wait() returned (never synchronously): the render's file, before it is published.
        const ticket = waiter.wait(data.key, { timeoutMs: deps.waitTimeoutMs, signal, onStreaming: streamable ? stream : undefined });
        const outcome: MissOutcome = ticket.joined ? 'joined' : 'miss';
        const counts: AskCounts = { counted: false, shareCounted: false };
        // Counted out once both the ask and the wait have ended. Only a client that went away gives up on
        // the render; one that waited too long will retry for it.
        let askEnded = false;
        let leaves: boolean | undefined;
        const countOut = () => {
          if (!askEnded || leaves === undefined) return;
          if (counts.counted && leaves) void waitingCount.left(data.key);
          if (counts.shareCounted) void clientShares.countOut(client!).catch(ignore);
        };
        // The wait's own timer bounds the whole request, its Redis round trips included: a Redis that stalls
        // (a slow script, a fork, a black hole) gives a 503 within WAIT_TIMEOUT_MS, and the request stays
        // counted among the waiting until then. A failed ask (not Redis's: those end the wait) ends it too.
        ticket.done.then(
          () => {
            leaves = true;
            countOut();
            endDone();
            answer({ outcome, streaming: null });
          },
          (failure: unknown) => {
            leaves = failure instanceof WaitAbandoned;
            countOut();
            endDone(failure);
            fail(failure);
          },
        );
        ask(data, ticket, priority, client, counts).then(
          () => {
            askEnded = true;
            countOut();
          },
          (failure: unknown) => {
            askEnded = true;
            countOut();
            endDone(failure);
            fail(failure);
          },
        );
      });
    },
  };
}
