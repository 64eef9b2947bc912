// Owns "one stack per DATA_DIR": DATA_DIR/stack.pid, made exclusively, naming its owner by pid and start
// time. A live owner makes a second start stop with a message naming it (two stacks would fight over one
// Redis data folder, nginx pid and store); a dead owner's file (a killed run) is taken over.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { stackLockFile } from '../data-layout.js';
import { processStartTime } from './leftover-process.js';

export class StackAlreadyRunning extends Error {}

export interface StackLock {
  /** A line for the log when the lock was taken over from a killed run, else null. */
  readonly tookOver: string | null;
  release(): Promise<void>;
}

export async function takeStackLock(dataDir: string): Promise<StackLock> {
  const file = stackLockFile(dataDir);
  const mine = `${process.pid} ${await processStartTime(process.pid)}`;
  let tookOver: string | null = null;
  // Twice: a stale file is removed once, then the exclusive create decides between racing starts.
  for (let attempt = 0; attempt < 2; attempt++) {
    const created = await writeFile(file, `${mine}\n`, { flag: 'wx' }).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return false;
        throw error;
      },
    );
    if (created) {
      return {
        tookOver,
        async release() {
          if ((await readFile(file, 'utf8').catch(() => '')).trim() === mine) await rm(file, { force: true });
        },
      };
    }
    const [pid, startTime] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
    if (pid && startTime && (await processStartTime(Number(pid))) === startTime) {
      throw new StackAlreadyRunning(`Another stack (pid ${pid}) runs on DATA_DIR ${dataDir}; stop it first, or use another DATA_DIR.`);
    }
    await rm(file, { force: true });
    tookOver = `took over ${file} from pid ${pid || '?'}, which is gone (a killed run)`;
  }
  throw new StackAlreadyRunning(`Another stack is starting on DATA_DIR ${dataDir} at the same moment.`);
}
