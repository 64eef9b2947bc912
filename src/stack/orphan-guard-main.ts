// The orphan guard's process (started by orphan-guard.ts): holds the IPC channel of the stack's process and
// the process groups the stack started; when that channel closes without the stack having forgotten them
// (the stack was SIGKILLed, or crashed), it stops every group still alive: SIGTERM, then SIGKILL after a grace.
const GRACE_MS = 3_000;
const POLL_MS = 100;

const groups = new Set<number>();

/** Sends `signal` to every listed group; returns how many still had a member to receive it. */
function signalGroups(signal: NodeJS.Signals | 0): number {
  let alive = 0;
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
      alive += 1;
    } catch {
      groups.delete(pgid); // that group is gone
    }
  }
  return alive;
}

process.on('message', (message: { watch?: number; forget?: number }) => {
  if (message.watch) groups.add(message.watch);
  if (message.forget) groups.delete(message.forget);
});
process.on('disconnect', () => {
  signalGroups('SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  const check = setInterval(() => {
    if (signalGroups(0) > 0 && Date.now() < deadline) return;
    signalGroups('SIGKILL');
    clearInterval(check);
    process.exit(0);
  }, POLL_MS);
});
