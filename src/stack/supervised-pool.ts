// Owns keeping processes up: every process `npm start` starts (Redis, the workers, the API, nginx) is a
// pool of one or more; each one that dies unexpectedly has its process group killed (an ffmpeg child must
// not outlive its worker, nor an nginx worker its master), is cleaned up after, and is started again with
// backoff. A stop of the pool is the only way its processes stay down.
import { startProcess, type LineSink, type ManagedProcess } from './managed-process.js';
import type { OrphanGuard } from './orphan-guard.js';

export interface SupervisedPool {
  readonly processes: readonly ManagedProcess[];
  /** How many times a process of this pool was restarted after dying. */
  readonly restarts: number;
  /** Resolves when every process has been ready once. */
  readonly ready: Promise<void>;
  stop(graceMs: number): Promise<void>;
}

export interface PoolOptions {
  name: string;
  count: number;
  /** Starts one process under `name` (prepares what it needs first); called again for each restart. */
  start: (name: string) => Promise<ManagedProcess>;
  /** Resolves when a started process serves; by default, its {type: 'ready'} over IPC. */
  ready?: (child: ManagedProcess) => Promise<void>;
  sink: LineSink;
  /** After a process died, before it is restarted: remove what it left behind. Returns a line for the log. */
  cleanUpAfter?: (pid: number) => Promise<string>;
  /** A process died and is being restarted (the stack counts worker restarts for /metrics). */
  onRestart?: () => void;
}

const RESTART_DELAY_MS = 500;
/** A process that dies sooner than this after its start is crash-looping: each restart waits twice as long. */
const QUICK_DEATH_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

/** Pure: the wait before the next restart, from the last wait and how long the process lived. */
export function nextRestartDelay(lastDelayMs: number | null, livedMs: number): number {
  if (lastDelayMs === null || livedMs >= QUICK_DEATH_MS) return RESTART_DELAY_MS;
  return Math.min(lastDelayMs * 2, MAX_RESTART_DELAY_MS);
}

/** A pool's start for a Node entry of ours (the workers, the API), which reports ready over IPC. */
export function nodeEntry(options: {
  entry: string;
  env: NodeJS.ProcessEnv;
  sink: LineSink;
  guard?: OrphanGuard;
  launcher?: readonly string[];
}) {
  return async (name: string): Promise<ManagedProcess> =>
    startProcess({
      name,
      command: process.execPath,
      args: [options.entry],
      env: options.env,
      ipc: true,
      sink: options.sink,
      guard: options.guard,
      launcher: options.launcher,
    });
}

export function startSupervisedPool(options: PoolOptions): SupervisedPool {
  const processes: ManagedProcess[] = [];
  /** Each launched process's end, clean-up included: a stop is over when all of them are. */
  const endings: Promise<void>[] = [];
  /** Starts under way: a stop waits for them, then stops what they started. */
  const starting = new Set<Promise<unknown>>();
  let restarts = 0;
  let stopping = false;
  /** The wait before each slot's last restart (null: never restarted). */
  const delays: Array<number | null> = [];
  const readyOf = options.ready ?? ((child: ManagedProcess) => child.ready);
  const nameOf = (slot: number) => (options.count === 1 ? options.name : `${options.name}-${slot + 1}`);

  function launch(slot: number): Promise<ManagedProcess> {
    const launched = supervise(slot);
    starting.add(launched);
    void launched.catch(() => undefined).finally(() => starting.delete(launched));
    return launched;
  }

  async function supervise(slot: number): Promise<ManagedProcess> {
    const child = await options.start(nameOf(slot));
    const startedAt = Date.now();
    processes[slot] = child;
    const ended = child.exited.then(async (code) => {
      await child.stop(0); // the rest of its process group
      // Also after a stop: a worker killed at the end of its grace leaves a partial render behind.
      const cleaned = (await options.cleanUpAfter?.(child.pid).catch((error: Error) => `clean-up failed: ${error.message}`)) ?? '';
      if (stopping) return;
      restarts += 1;
      options.onRestart?.();
      restartLater(slot, Date.now() - startedAt, `exited unexpectedly (${code}); ${cleaned}${cleaned ? '; ' : ''}`);
    });
    endings.push(ended);
    return child;
  }

  function restartLater(slot: number, livedMs: number, why: string): void {
    const delay = nextRestartDelay(delays[slot] ?? null, livedMs);
    delays[slot] = delay;
    options.sink(nameOf(slot), `${why}restarting in ${delay} ms`, 'warn');
    setTimeout(() => {
      if (stopping) return;
      launch(slot).then(
        (child) =>
          readyOf(child).catch((error: Error) => options.sink(nameOf(slot), `not ready after its restart: ${error.message}`, 'error')),
        // Nothing was started (its preparation failed): try again, waiting longer each time.
        (error: Error) => restartLater(slot, 0, `could not start: ${error.message}; `),
      );
    }, delay).unref();
  }

  const first = Array.from({ length: options.count }, (_, slot) => launch(slot).then(readyOf));
  const ready = Promise.all(first).then(() => undefined);
  ready.catch(() => undefined); // the caller's to handle; a stop must not raise it again
  return {
    processes,
    get restarts() {
      return restarts;
    },
    ready,
    async stop(graceMs) {
      stopping = true;
      await Promise.allSettled([...starting]);
      await Promise.all(processes.map((child) => child.stop(graceMs)));
      await Promise.all(endings);
    },
  };
}
