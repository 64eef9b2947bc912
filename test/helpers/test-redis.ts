// A private redis-server for a unit-level test file (the same one `npm start` runs), in a temp folder;
// stopped by pid and its folder removed by stop().
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startPrivateRedis } from '../../src/stack/private-redis.js';
import { ensurePrograms } from '../../src/stack/system-tools.js';

export interface TestRedis {
  url: string;
  /** redis-server's pid, to stall it (SIGSTOP) or end it as a fault would. */
  pid: number;
  /** A temp folder beside Redis's data, removed by stop(). */
  dir: string;
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-redis-'));
  const programs = ensurePrograms(['redis-server'], () => undefined);
  const { process: redis, url } = await startPrivateRedis({ program: programs['redis-server']!, dataDir: dir, sink: () => undefined });
  return {
    url,
    pid: redis.pid,
    dir,
    async stop() {
      await redis.stop(5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
