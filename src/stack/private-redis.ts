// Owns the private Redis that `npm start` runs when REDIS_URL is unset: loopback only, data under
// DATA_DIR, append-only persistence and noeviction (BullMQ must never lose keys to eviction).
import { mkdir } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { redisDir } from '../data-layout.js';
import { freePort } from './free-port.js';
import { startProcess, type LineSink, type ManagedProcess } from './managed-process.js';

/** `port`: start again where a stopped one listened (same data, same URL for every client); else a free one. */
export async function startPrivateRedis(options: {
  program: string;
  dataDir: string;
  sink: LineSink;
  port?: number;
  readyTimeoutMs?: number;
}): Promise<{ process: ManagedProcess; url: string }> {
  const dir = redisDir(options.dataDir);
  await mkdir(dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const redis = startProcess({
    name: 'redis',
    command: options.program,
    args: [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
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
    sink: options.sink,
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitForRedis(url, redis, options.readyTimeoutMs ?? 20_000);
  return { process: redis, url };
}

/** Resolves on the first PONG; ioredis keeps retrying the connection until then. */
async function waitForRedis(url: string, redis: ManagedProcess, timeoutMs: number): Promise<void> {
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
