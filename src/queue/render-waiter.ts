// Owns waiting for renders: one QueueEvents subscription per process and a map from job id to the
// requests waiting on it. A waiting request costs one map entry, one object and one timer; no listener per request
// on the shared emitter, no polling. A failed job's waiters get the failure its worker recorded. A waiter
// that can take its render as it is written is told the file once its render starts (the job's first
// progress event, or a join of a render under way), and from then on waits without a time limit: the
// stream's own limits take over (store/growing-render.ts).
import type { QueueEvents } from 'bullmq';
import { type ServiceError, Unavailable } from '../errors.js';
import { failureAsServiceError } from '../render/render-failure.js';
import type { FailureMemory } from './failure-memory.js';
import type { RenderStreams } from './render-streams.js';

/** The request went away before its render finished; nobody is left to answer. */
export class WaitAbandoned extends Error {
  constructor() {
    super('the client went away while waiting');
    this.name = 'WaitAbandoned';
  }
}

/** Waited longer than the limit: 503 + Retry-After, while the render goes on and fills the store. */
export class WaitTimedOut extends Unavailable {
  constructor(timeoutMs: number) {
    super(`The segment is still rendering after ${Math.round(timeoutMs / 1000)} s; its render goes on, retry shortly.`, 'stillRendering');
  }
}

export interface WaitTicket {
  /** Resolves when the key's render is in the store; rejects with a ServiceError or WaitAbandoned. */
  done: Promise<void>;
  /** True when another request in this process was already waiting on the same key. */
  joined: boolean;
}

/** What a wait adds to its signal: an object (EventTarget calls its handleEvent), so it costs no closure. */
export interface GoneListener {
  handleEvent(): void;
}

/**
 * How a wait learns that its client went away: an AbortSignal, or anything watched the same way (with 10,000
 * waiting, an AbortController each costs its own EventTarget, hidden class and listener map: issue 15).
 */
export interface GoneSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: GoneListener): void;
  removeEventListener(type: 'abort', listener: GoneListener): void;
}

export interface WaitOptions {
  timeoutMs: number;
  signal: GoneSignal;
  /** Called once, with the name of the file the render is being written into, if it is written while waiting. */
  onStreaming?: (fileName: string) => void;
}

export interface RenderWaiter {
  /** Requests waiting now, across all keys. */
  readonly waiting: number;
  wait(key: string, options: WaitOptions): WaitTicket;
  /** Ends every wait on a key: success (undefined) or the failure to answer with. */
  settle(key: string, failure?: ServiceError): void;
  /** `key`'s render is being written into `fileName`: its waiters that can stream it are told. */
  streaming(key: string, fileName: string): void;
  close(): void;
}

/** What every waiting request of one process shares: the count, and the map it leaves. */
interface WaitBook {
  waiting: number;
  /** Drops `key` from the map when `waiters`, its set, is empty. */
  forget(key: string, waiters: Set<Waiting>): void;
}

/**
 * One waiting request: a single object holding its promise's settlers, its timer and its abort watch. Its
 * methods live on the prototype, it is itself the abort listener (handleEvent) and its timer's argument:
 * a waiter costs no closures of its own (10,000 waiting: every byte per waiter counts, issue 15).
 */
class Waiting {
  private finished = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly book: WaitBook,
    private readonly key: string,
    /** The waiters of its key (shared). */
    private readonly waiters: Set<Waiting>,
    private readonly resolve: () => void,
    private readonly reject: (error: Error) => void,
    private readonly signal: GoneSignal,
    private readonly timeoutMs: number,
    /** Absent for a waiter that takes only a finished render, and once called. */
    private onStreaming: ((fileName: string) => void) | undefined,
  ) {
    book.waiting += 1;
    this.timer = setTimeout(timeOut, timeoutMs, this);
  }

  get streams(): boolean {
    return this.onStreaming !== undefined;
  }

  /** Told once: from then on it waits without a time limit (the stream's own limits take over). */
  stream(fileName: string): void {
    const onStreaming = this.onStreaming;
    if (!onStreaming) return;
    this.onStreaming = undefined;
    clearTimeout(this.timer);
    onStreaming(fileName);
  }

  end(failure?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.book.waiting -= 1;
    clearTimeout(this.timer);
    this.signal.removeEventListener('abort', this);
    if (failure) this.reject(failure);
    else this.resolve();
  }

  /** Stops this request's wait only (the job itself goes on for everyone else). */
  leave(failure: Error): void {
    this.waiters.delete(this);
    this.book.forget(this.key, this.waiters);
    this.end(failure);
  }

  /** The abort listener (EventTarget calls handleEvent): the client went away. */
  handleEvent(): void {
    this.leave(new WaitAbandoned());
  }

  timedOut(): void {
    this.leave(new WaitTimedOut(this.timeoutMs));
  }
}

function timeOut(entry: Waiting): void {
  entry.timedOut();
}

/** One handler for every wait's own rejection mark (a closure per wait would cost bytes per waiter). */
const ignore = () => undefined;

export function createRenderWaiter(
  events: QueueEvents,
  failures: Pick<FailureMemory, 'failureOf'>,
  streams?: Pick<RenderStreams, 'fileOf'>,
): RenderWaiter {
  const byKey = new Map<string, Set<Waiting>>();
  /** The file each key's render is being written into, once known here (forgotten when it settles). */
  const streamFiles = new Map<string, string>();
  /** Keys whose file is being asked of Redis now: one read per key, however many progress events come. */
  const lookingUp = new Set<string>();
  const book: WaitBook = {
    waiting: 0,
    forget(key, waiters) {
      if (waiters.size === 0 && byKey.get(key) === waiters) byKey.delete(key);
    },
  };
  // After close() no completion can arrive: a wait begun then would hang until its timeout.
  let closed = false;

  function settle(key: string, failure?: ServiceError): void {
    streamFiles.delete(key);
    const set = byKey.get(key);
    if (!set) return;
    byKey.delete(key);
    for (const entry of set) entry.end(failure);
  }

  const onCompleted = ({ jobId }: { jobId: string }) => settle(jobId);
  // Read only when someone here waits on the job: the record, not the event's text, says how it failed.
  const onFailed = ({ jobId }: { jobId: string }) => {
    if (byKey.has(jobId)) void failures.failureOf(jobId).then((failure) => settle(jobId, failureAsServiceError(failure)));
  };
  function streaming(key: string, fileName: string): void {
    const set = byKey.get(key);
    const previous = streamFiles.get(key);
    if (!set || previous === fileName) return;
    streamFiles.set(key, fileName);
    // Once per waiter: a retry's file is found by the stream itself (store/growing-render.ts).
    for (const entry of set) entry.stream(fileName);
  }
  // A job reports 0 % as its file is created (process-render-job.ts): only then is the file looked up (a
  // copy's later reports are no news; a waiter that comes after the 0 % reads the file with its count).
  const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
    if (data !== 0 || !streams || streamFiles.has(jobId) || lookingUp.has(jobId) || !byKey.has(jobId)) return;
    lookingUp.add(jobId);
    streams
      .fileOf(jobId)
      .then((fileName) => fileName && streaming(jobId, fileName))
      .catch(() => undefined) // the render is then answered when published
      .finally(() => lookingUp.delete(jobId));
  };
  events.on('completed', onCompleted);
  events.on('failed', onFailed);
  events.on('progress', onProgress);

  return {
    get waiting() {
      return book.waiting;
    },
    settle,
    streaming,
    wait(key, { timeoutMs, signal, onStreaming }) {
      if (closed) {
        const done = Promise.reject(new Unavailable('The service is shutting down; retry shortly.', 'shuttingDown'));
        done.catch(() => undefined);
        return { done, joined: false };
      }
      const existing = byKey.get(key);
      const joined = existing !== undefined;
      const waiters = existing ?? new Set<Waiting>();
      byKey.set(key, waiters);
      let entry: Waiting | undefined;
      const done = new Promise<void>((resolve, reject) => {
        entry = new Waiting(book, key, waiters, resolve, reject, signal, timeoutMs, onStreaming);
      });
      // Marked handled here: a wait may end (timeout, client gone) before its caller reaches `await`.
      done.catch(ignore);
      const waiter = entry as Waiting;
      waiters.add(waiter);
      if (signal.aborted) waiter.handleEvent();
      else signal.addEventListener('abort', waiter);
      const known = streamFiles.get(key);
      // After the caller has its ticket: it may start reading the file at once.
      if (known !== undefined && waiter.streams) queueMicrotask(() => waiter.stream(known));
      return { done, joined };
    },
    close() {
      closed = true;
      events.off('completed', onCompleted);
      events.off('failed', onFailed);
      events.off('progress', onProgress);
      for (const key of [...byKey.keys()]) settle(key, new Unavailable('The service is shutting down; retry shortly.', 'shuttingDown'));
    },
  };
}
