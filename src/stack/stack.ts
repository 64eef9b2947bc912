// Owns the whole stack on one machine, in order: Redis (private unless REDIS_URL), the worker processes,
// the API, nginx, each a supervised pool (restarted when it dies), all watched by one orphan guard (none
// outlives a killed stack); and stopping all of them, by pid, in the reverse order. `npm start` and the
// integration tests both start the stack through this one function.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { configToEnv, frontUrl, PROJECT_ROOT, type Config } from '../config.js';
import { nginxCacheDir, nginxCacheKeyRecord, storeDir } from '../data-layout.js';
import { countWorkerRestart } from '../observability/worker-restarts.js';
import { connectRedis } from '../queue/redis-connection.js';
import { createRenderStore } from '../store/render-store.js';
import { freePort } from './free-port.js';
import type { LineSink, ManagedProcess } from './managed-process.js';
import { startNginx } from './nginx-front.js';
import { type OrphanGuard, startOrphanGuard } from './orphan-guard.js';
import { launchPrivateRedis, privateRedisUrl, waitForRedis } from './private-redis.js';
import { forgetCacheOfOtherKeys } from './signing-key-epoch.js';
import { type StackLock, takeStackLock } from './stack-lock.js';
import { ensurePrograms } from './system-tools.js';
import { nodeEntry, startSupervisedPool, type SupervisedPool } from './supervised-pool.js';

export const API_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'server.js');
export const WORKER_ENTRY = path.join(PROJECT_ROOT, 'dist', 'workers', 'main.js');
// Two stop phases (everything using Redis, then Redis) of 4 s each keep a full stop under 10 s.
const STOP_GRACE_MS = 4_000;

export interface Stack {
  /** The public (nginx) base URL. */
  readonly url: string;
  /** The API's own base URL (bypassing nginx). */
  readonly apiUrl: string;
  readonly redisUrl: string;
  /** The private Redis (null with REDIS_URL); its stop() stops it for good (no restart). */
  readonly redis: SupervisedPool | null;
  readonly api: SupervisedPool;
  readonly workers: SupervisedPool;
  readonly nginx: SupervisedPool;
  /** Stops every process, Redis last; resolves with those it stopped, in that order (`npm start` says them). */
  stop(): Promise<StoppedProcess[]>;
}

export interface StoppedProcess {
  readonly name: string;
  readonly pid: number;
}

export async function startStack(config: Config, sink: LineSink): Promise<Stack> {
  const programs = ensurePrograms([...(config.redisUrl ? [] : ['redis-server']), 'nginx'], (line) => sink('stack', line));
  await mkdir(storeDir(config.dataDir), { recursive: true });
  const lock: StackLock = await takeStackLock(config.dataDir);
  if (lock.tookOver) sink('stack', lock.tookOver, 'warn');
  const guard: OrphanGuard = startOrphanGuard(sink);
  const pools: SupervisedPool[] = [];
  let redisPool: SupervisedPool | null = null;
  let restartCounter: Redis | null = null;
  const stopAll = async (): Promise<StoppedProcess[]> => {
    // The processes each pool runs now (a restarted one's latest), listed from the front back to Redis.
    const stopped = [...pools]
      .reverse()
      .concat(redisPool ?? [])
      .flatMap((pool) => pool.processes.map(({ name, pid }) => ({ name, pid })));
    // Everything that uses Redis first (the API answers its waiting requests with 503), Redis last.
    await Promise.all(pools.map((pool) => pool.stop(STOP_GRACE_MS)));
    await restartCounter?.quit().catch(() => undefined);
    await redisPool?.stop(STOP_GRACE_MS);
    await guard.close();
    await lock.release();
    return stopped;
  };
  try {
    let redisUrl = config.redisUrl;
    if (!redisUrl) {
      // One port for every restart: the API and the workers reconnect to the same URL by themselves.
      const port = await freePort();
      const url = privateRedisUrl(port);
      const program = programs['redis-server'] as string;
      redisPool = startSupervisedPool({
        name: 'redis',
        count: 1,
        start: () => launchPrivateRedis({ program, dataDir: config.dataDir, port, sink, guard }),
        ready: (child) => waitForRedis(url, child),
        sink,
      });
      await redisPool.ready;
      redisUrl = url;
    }
    const env = { ...process.env, ...configToEnv(config), REDIS_URL: redisUrl };
    const store = createRenderStore({ dir: storeDir(config.dataDir) });
    // This process restarts workers, but /metrics is the API's: the count goes to Redis. Fail-fast: a
    // restart while Redis is down goes uncounted rather than queued.
    const counter = connectRedis(redisUrl, 'fail-fast', 'stack');
    restartCounter = counter;
    counter.on('error', () => undefined); // its outages are the API's and workers' to report
    const workers = startSupervisedPool({
      name: 'worker',
      count: config.workers,
      start: nodeEntry({ entry: WORKER_ENTRY, env, sink, guard }),
      sink,
      // A worker killed mid-render leaves its temp file: nothing partial may stay in the store.
      cleanUpAfter: async (pid) => `removed ${await store.removeTemps(pid)} temp file(s)`,
      onRestart: () =>
        void countWorkerRestart(counter).catch((error: Error) => sink('stack', `worker restart not counted: ${error.message}`, 'warn')),
    });
    const api = startSupervisedPool({ name: 'api', count: 1, start: nodeEntry({ entry: API_ENTRY, env, sink, guard }), sink });
    pools.push(workers, api);
    await Promise.all([workers.ready, api.ready]);
    // Before nginx starts (it reads its cache from disk then), and only then: a restart keeps the key.
    const forgotten = await forgetCacheOfOtherKeys({
      cacheDir: nginxCacheDir(config.dataDir),
      recordFile: nginxCacheKeyRecord(config.dataDir),
      signingKey: config.signingKey,
    });
    if (forgotten > 0) sink('stack', `the signing key changed: removed ${forgotten} nginx cache entries made under another`);
    const url = frontUrl(config);
    const nginx = startSupervisedPool({
      name: 'nginx',
      count: 1,
      start: () => startNginx({ program: programs.nginx as string, config, sink, guard }),
      ready: (child) => waitForHttp(`${url}/healthz`, child),
      sink,
    });
    pools.push(nginx);
    await nginx.ready;
    return { url, apiUrl: `http://127.0.0.1:${config.apiPort}`, redisUrl, redis: redisPool, api, workers, nginx, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Resolves when the URL answers 200; rejects if the process exits first or after 20 s. */
async function waitForHttp(url: string, owner: ManagedProcess): Promise<void> {
  let exited = false;
  void owner.exited.then(() => (exited = true));
  const deadline = Date.now() + 20_000;
  while (!exited && Date.now() < deadline) {
    const ok = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(exited ? `${owner.name} exited during start; see its log` : `${url} did not answer within 20 s`);
}
