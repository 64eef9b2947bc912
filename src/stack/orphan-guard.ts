// Owns "no child outlives a killed stack". Node has no prctl(PR_SET_PDEATHSIG), and nginx and redis-server
// cannot be told to watch their parent; a SIGKILLed `npm start` runs no handler, so nothing in it can stop
// its children. One small guard process per stack (orphan-guard-main.ts) holds an IPC channel to the stack
// and the list of its children's process groups; the kernel closes that channel when the stack dies, however
// it dies, and the guard then stops every group still listed. One guard for all (not a wrapper per
// program): the programs keep their own pids and signals, and each group covers their children too (nginx's
// workers, a worker's ffmpeg). The Node children also stop themselves when their own channel closes.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../config.js';
import type { LineSink } from './managed-process.js';

export const GUARD_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'stack', 'orphan-guard-main.js');
/** A guard that dies sooner than this after its start would die again: it is not started a third time. */
const QUICK_DEATH_MS = 1_000;

export interface OrphanGuard {
  /** A process group the stack started (its leader's pid): stopped if the stack dies before forgetting it. */
  watch(pgid: number): void;
  /** The group is gone (or stopped on purpose). */
  forget(pgid: number): void;
  /** After a stop of everything: the guard exits (stopping any group still listed). */
  close(): Promise<void>;
}

export function startOrphanGuard(sink: LineSink): OrphanGuard {
  const groups = new Set<number>();
  let closed = false;
  let guard = launch();

  function launch(): ChildProcess {
    const child = spawn(process.execPath, [GUARD_ENTRY], { detached: true, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const startedAt = Date.now();
    child.on('error', (error) => sink('orphan-guard', `could not start: ${error.message}`, 'error'));
    child.once('exit', (code, signal) => {
      if (closed) return;
      const again = Date.now() - startedAt >= QUICK_DEATH_MS;
      sink('orphan-guard', `exited (${code ?? signal})${again ? '; starting it again' : '; children are not guarded now'}`, 'warn');
      if (again) guard = launch();
    });
    for (const pgid of groups) send(child, { watch: pgid });
    // Neither the guard nor its channel keeps this process alive: they only matter while it lives.
    child.unref();
    child.channel?.unref();
    return child;
  }

  function send(child: ChildProcess, message: { watch?: number; forget?: number }): void {
    if (child.connected) child.send(message, (error) => error && sink('orphan-guard', `not told: ${error.message}`, 'warn'));
  }

  return {
    watch(pgid) {
      groups.add(pgid);
      send(guard, { watch: pgid });
    },
    forget(pgid) {
      groups.delete(pgid);
      send(guard, { forget: pgid });
    },
    async close() {
      closed = true;
      if (guard.exitCode !== null || guard.signalCode !== null) return;
      const exited = new Promise((resolve) => guard.once('exit', resolve));
      guard.ref(); // the wait for its exit must keep this process alive
      if (guard.connected) guard.disconnect();
      await exited;
    },
  };
}
