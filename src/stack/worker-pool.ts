// Owns the worker processes: WORKERS separate OS processes, each restarted when it dies unexpectedly,
// with the dead one's temp files removed (a crash mid-render must leave nothing behind).
import type { RenderStore } from '../store/render-store.js';
import { startProcess, type LineSink, type ManagedProcess } from './managed-process.js';

export interface WorkerPool {
  readonly processes: readonly ManagedProcess[];
  readonly restarts: number;
  /** Resolves when every worker has reported ready once. */
  readonly ready: Promise<void>;
  stop(graceMs: number): Promise<void>;
}

const RESTART_DELAY_MS = 500;

export function startWorkerPool(options: { count: number; entry: string; env: NodeJS.ProcessEnv; store: RenderStore; sink: LineSink }): WorkerPool {
  const processes: ManagedProcess[] = [];
  let restarts = 0;
  let stopping = false;

  function launch(slot: number): ManagedProcess {
    const worker = startProcess({ name: `worker-${slot + 1}`, command: process.execPath, args: [options.entry], env: options.env, ipc: true, sink: options.sink });
    processes[slot] = worker;
    void worker.exited.then(async (code) => {
      // Its whole process group: an ffmpeg child must not outlive it.
      await worker.stop(0);
      if (stopping) return;
      const removed = await options.store.removeTemps(worker.pid).catch(() => 0);
      options.sink(worker.name, `exited unexpectedly (${code}); removed ${removed} temp file(s); restarting`);
      restarts += 1;
      setTimeout(() => {
        if (!stopping) launch(slot);
      }, RESTART_DELAY_MS).unref();
    });
    return worker;
  }

  const first = Array.from({ length: options.count }, (_, slot) => launch(slot));
  return {
    processes,
    get restarts() {
      return restarts;
    },
    ready: Promise.all(first.map((worker) => worker.ready)).then(() => undefined),
    async stop(graceMs) {
      stopping = true;
      await Promise.all(processes.map((worker) => worker.stop(graceMs)));
    },
  };
}
