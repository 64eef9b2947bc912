// Owns the private Redis that `npm start` runs when REDIS_URL is unset: loopback only, data under
// DATA_DIR, append-only persistence and noeviction (BullMQ must never lose keys to eviction). Its pid file
// beside the data is the folder's lock: a Redis a killed run left on the folder is stopped before another
// starts there, so two never write one append-only file.
import { mkdir, realpath } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { redisDir, redisPidFile } from '../data-layout.js';
import { freePort } from './free-port.js';
import { clearLeftover, processCwd } from './leftover-process.js';
import { type LineLevel, startProcess, type LineSink, type ManagedProcess } from './managed-process.js';
import type { OrphanGuard } from './orphan-guard.js';

export interface PrivateRedisOptions {
  program: string;
  dataDir: string;
  sink: LineSink;
  guard?: OrphanGuard;
}

const REDIS_TITLE = /^\S*redis-server\s/;

/**
 * Advice a stack on one machine takes no action on: kernel tuning for production (overcommit, THP, the TCP
 * backlog, open files) and the start-up banner. Checked first: the overcommit advice speaks of failures.
 */
const REDIS_NO_ACTION = /Memory overcommit|Transparent Huge Pages|TCP backlog|maximum open files|oO0OoO0OoO0Oo/i;
/** Redis marks its routine lines (started, ready, bye bye) as warnings too: only these words mean a failure. */
const REDIS_FAILURE = /\b(error|errors|fail|failed|failure|failing|can't|cannot|unable|denied|fatal|corrupt\w*|out of memory|oom)\b/i;

/** Pure: Redis's lines at debug (its chatter: banner, start, shutdown, advice), or error where one says something failed. */
export const redisLineLevel: LineLevel = (line) => (!REDIS_NO_ACTION.test(line) && REDIS_FAILURE.test(line) ? 'error' : 'debug');

export const privateRedisUrl = (port: number) => `redis://127.0.0.1:${port}`;

/** `port`: start again where a stopped one listened (same data, same URL for every client); else a free one. */
export async function startPrivateRedis(
  options: PrivateRedisOptions & { port?: number; readyTimeoutMs?: number },
): Promise<{ process: ManagedProcess; url: string }> {
  const port = options.port ?? (await freePort());
  const redis = await launchPrivateRedis({ ...options, port });
  const url = privateRedisUrl(port);
  await waitForRedis(url, redis, options.readyTimeoutMs ?? 20_000).catch(async (error: Error) => {
    await redis.stop(0);
    throw error;
  });
  return { process: redis, url };
}

/** Starts redis-server on `port` (not waiting for it to answer), once no other Redis runs on the folder. */
export async function launchPrivateRedis(options: PrivateRedisOptions & { port: number }): Promise<ManagedProcess> {
  const dir = redisDir(options.dataDir);
  await mkdir(dir, { recursive: true });
  // redis-server retitles itself "<program> <address>" but runs in its --dir: that names the folder.
  const realDir = await realpath(dir);
  const leftover = await clearLeftover(
    redisPidFile(options.dataDir),
    async (pid, commandLine) => REDIS_TITLE.test(commandLine) && (await processCwd(pid)) === realDir,
  );
  if (leftover) options.sink('redis', leftover, 'warn');
  return startProcess({
    name: 'redis',
    command: options.program,
    args: [
      '--port',
      String(options.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--pidfile',
      redisPidFile(options.dataDir),
      '--save',
      '',
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
    ],
    guard: options.guard,
    sink: options.sink,
    levelOf: redisLineLevel,
  });
}

/** Resolves on the first PONG; ioredis keeps retrying the connection until then. */
export async function waitForRedis(url: string, redis: ManagedProcess, timeoutMs = 20_000): Promise<void> {
  // The PING waits in ioredis' offline queue through every failed attempt until Redis listens.
  const client = new Redis(url, { retryStrategy: () => 100, maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  try {
    await Promise.race([
      client.ping(),
      redis.exited.then((code) => Promise.reject(new Error(`redis-server exited (${code}) during start`))),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`redis did not answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } finally {
    client.disconnect();
  }
}
