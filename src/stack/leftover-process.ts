// Owns what a killed run can leave behind a pid file: a process still running, stopped before its
// successor starts if /proc shows it is the one this stack would have started there, or a stale file,
// removed. A pid alone proves nothing: after a reboot or a while it may name an unrelated process.
import { readFile, readlink, rm } from 'node:fs/promises';

/** A live process's command line (arguments joined by spaces, trimmed), or null if it is gone or a zombie. */
export async function processCommandLine(pid: number): Promise<string | null> {
  if ((await processStat(pid))?.state === 'Z') return null;
  const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => null);
  return raw === null ? null : raw.replaceAll('\0', ' ').trim();
}

/** The process's start time in clock ticks since boot: with the pid, a name no later process can share. */
export async function processStartTime(pid: number): Promise<string | null> {
  const stat = await processStat(pid);
  return stat && stat.state !== 'Z' ? stat.startTime : null;
}

/** The folder a process runs in (redis-server chdirs to its --dir), or null when unreadable. */
export function processCwd(pid: number): Promise<string | null> {
  return readlink(`/proc/${pid}/cwd`).catch(() => null);
}

async function processStat(pid: number): Promise<{ state: string; startTime: string } | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  // The fields after the command name (which may hold spaces): state is field 3, starttime field 22.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
}

/** The pid a pid file names, or null when the file is missing or holds no pid. */
export async function readPidFile(file: string): Promise<number | null> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim().split(/\s+/)[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

const STOP_GRACE_MS = 5_000;

/**
 * Before starting a process that writes `pidFile`: stops the process the file names if it still runs and
 * `ours` says it is the same program on the same folder (a killed run's leftover, holding our port or our
 * data), then removes the file. Returns a line for the log, or null when there was nothing to do.
 */
export async function clearLeftover(pidFile: string, ours: (pid: number, commandLine: string) => Promise<boolean>): Promise<string | null> {
  const pid = await readPidFile(pidFile);
  if (pid === null) return null;
  const commandLine = await processCommandLine(pid);
  let line = `removed the stale pid file ${pidFile} (pid ${pid} is gone)`;
  if (commandLine !== null && pid !== process.pid) {
    if (await ours(pid, commandLine)) {
      await stopPid(pid);
      line = `stopped "${commandLine}" (pid ${pid}), left running by an earlier run`;
    } else {
      line = `removed the stale pid file ${pidFile} (pid ${pid} is now another program)`;
    }
  }
  await rm(pidFile, { force: true });
  return line;
}

/** SIGTERM (nginx and Redis then stop their own children and flush), SIGKILL to its group after a grace. */
async function stopPid(pid: number): Promise<void> {
  const signal = (target: number, name: NodeJS.Signals) => {
    try {
      process.kill(target, name);
    } catch {
      // Already gone (or, for a group, not a group leader).
    }
  };
  signal(pid, 'SIGTERM');
  if (await gone(pid, STOP_GRACE_MS)) return;
  signal(-pid, 'SIGKILL');
  signal(pid, 'SIGKILL');
  await gone(pid, STOP_GRACE_MS);
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while ((await processCommandLine(pid)) !== null) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
