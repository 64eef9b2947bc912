// Owns one child process of the stack: started in its own process group (so its own children, such as a
// worker's ffmpeg, go down with it), its output forwarded line by line, stopped by pid: its stop signal
// (SIGTERM unless told) to the process itself, then SIGKILL to the whole group after a grace period. With a
// guard, the group is watched until then, so that it is stopped even if this process is killed first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Level } from 'pino';
import type { OrphanGuard } from './orphan-guard.js';

/**
 * Where a process's lines go. `level` is for a plain line (a JSON log line carries its own): how much it
 * matters, as its sender judged it; info when not given.
 */
export type LineSink = (processName: string, line: string, level?: Level) => void;

/** The level of a plain line a process wrote, by what it says and where (stdout or stderr). */
export type LineLevel = (line: string, stream: 'stdout' | 'stderr') => Level;

/** Our Node processes log JSON to stdout; what comes on stderr is a crash, or a warning of Node's own. */
const nodeLineLevel: LineLevel = (line, stream) =>
  stream === 'stdout' ? 'info' : /^\((node:\d+|Use `node --trace)/.test(line) ? 'warn' : 'error';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the process has ended. */
  readonly exited: Promise<number | string>;
  /** Resolves when the child sends {type: 'ready'} over IPC; rejects if it exits first. */
  readonly ready: Promise<void>;
  stop(graceMs: number): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  /**
   * A launcher that execs the command in another context, put before it (`ip netns exec <name>`: the cluster
   * test's nodes). It must exec, not fork: the pid and process group stay the program's own.
   */
  launcher?: readonly string[];
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Node children that report readiness over IPC. */
  ipc?: boolean;
  /** The signal that asks for a graceful stop (nginx: SIGQUIT; its SIGTERM drops open connections). */
  stopSignal?: NodeJS.Signals;
  /** Stops the process group if this process dies without stopping it (a SIGKILLed stack). */
  guard?: OrphanGuard;
  sink: LineSink;
  /** The level of its plain lines; by default, a Node process's. */
  levelOf?: LineLevel;
}

export function startProcess(options: StartOptions): ManagedProcess {
  const [command, ...args] = [...(options.launcher ?? []), options.command, ...options.args] as [string, ...string[]];
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    detached: true,
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
  });
  const levelOf = options.levelOf ?? nodeLineLevel;
  for (const [stream, from] of [
    [child.stdout, 'stdout'],
    [child.stderr, 'stderr'],
  ] as const) {
    if (stream) createInterface({ input: stream }).on('line', (line) => options.sink(options.name, line, levelOf(line, from)));
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (error) => {
      options.sink(options.name, `could not start ${options.command}: ${error.message}`, 'error');
      resolve('spawn-error');
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: { type?: string }) => {
      if (message?.type === 'ready') resolve();
    });
    void exited.then((code) => reject(new Error(`${options.name} exited (${code}) before it was ready`)));
  });
  ready.catch(() => undefined);
  const pid = child.pid ?? -1;
  if (pid > 0) options.guard?.watch(pid);

  function signalLeader(signal: NodeJS.Signals): void {
    if (pid <= 0) return;
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }

  function signalGroup(signal: NodeJS.Signals): void {
    if (pid <= 0) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** What is left of the group is killed; the guard need not watch it any more. */
  function endGroup(): void {
    signalGroup('SIGKILL');
    if (pid > 0) options.guard?.forget(pid);
  }

  return {
    name: options.name,
    pid,
    child,
    exited,
    ready,
    async stop(graceMs) {
      if (child.exitCode !== null || child.signalCode !== null) {
        endGroup(); // grandchildren of an exited leader
        return;
      }
      // The graceful signal to the leader only: a worker then finishes its render, whose ffmpeg would stop
      // at once if it got the signal too. What is left of the group is killed after the grace.
      signalLeader(options.stopSignal ?? 'SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      endGroup();
    },
  };
}
