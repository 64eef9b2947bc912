// Owns a set of Node processes that must stay up (the worker processes, the API): each one that dies
// unexpectedly has its process group killed (an ffmpeg child must not outlive its worker), is cleaned up
// after, and is started again.
import { startProcess, type LineSink, type ManagedProcess } from './managed-process.js';

export interface SupervisedPool {
  readonly processes: readonly ManagedProcess[];
  /** How many times a process of this pool was restarted after dying. */
  readonly restarts: number;
  /** Resolves when every process has reported ready once. */
  readonly ready: Promise<void>;
  stop(graceMs: number): Promise<void>;
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

export function startSupervisedPool(options: {
  name: string;
  count: number;
  entry: string;
  env: NodeJS.ProcessEnv;
  sink: LineSink;
  /** After a process died, before it is restarted: remove what it left behind. Returns a line for the log. */
  cleanUpAfter?: (pid: number) => Promise<string>;
  /** A process died and is being restarted (the stack counts it for /metrics). */
  onRestart?: () => void;
}): SupervisedPool {
  const processes: ManagedProcess[] = [];
  /** Each launched process's end, clean-up included: a stop is over when all of them are. */
  const endings: Promise<void>[] = [];
  let restarts = 0;
  let stopping = false;
  /** The wait before each slot's last restart (null: never restarted). */
  const delays: Array<number | null> = [];

  function launch(slot: number): ManagedProcess {
    const name = options.count === 1 ? options.name : `${options.name}-${slot + 1}`;
    const child = startProcess({ name, command: process.execPath, args: [options.entry], env: options.env, ipc: true, sink: options.sink });
    const startedAt = Date.now();
    processes[slot] = child;
    const ended = child.exited.then(async (code) => {
      await child.stop(0); // the rest of its process group
      // Also after a stop: a worker killed at the end of its grace leaves a partial render behind.
      const cleaned = (await options.cleanUpAfter?.(child.pid).catch((error: Error) => `clean-up failed: ${error.message}`)) ?? '';
      if (stopping) return;
      const delay = nextRestartDelay(delays[slot] ?? null, Date.now() - startedAt);
      delays[slot] = delay;
      options.sink(name, `exited unexpectedly (${code}); ${cleaned}${cleaned ? '; ' : ''}restarting in ${delay} ms`);
      restarts += 1;
      options.onRestart?.();
      setTimeout(() => {
        if (!stopping) launch(slot);
      }, delay).unref();
    });
    endings.push(ended);
    return child;
  }

  const first = Array.from({ length: options.count }, (_, slot) => launch(slot));
  return {
    processes,
    get restarts() {
      return restarts;
    },
    ready: Promise.all(first.map((child) => child.ready)).then(() => undefined),
    async stop(graceMs) {
      stopping = true;
      await Promise.all(processes.map((child) => child.stop(graceMs)));
      await Promise.all(endings);
    },
  };
}
