// Starts the cluster test's nodes (issue 17) in network namespaces of this run's own (mp3seg-<pid>-...): a
// Redis node, an origin node (nginx serving a media folder, Range its own), two service nodes (the project's
// nginx.conf, the API and workers), a worker-only node and a front nginx balancing the two service nodes.
// Each namespace has one veth to a bridge in a namespace of its own; this machine reaches the bridge through
// one veth of ours (the test's client). The render store is one local directory every node's DATA_DIR/store
// links to, standing in for a shared mount. Every process is started here through `ip netns exec` (which
// execs: the pid is the program's) and stopped by pid; every namespace and link is removed by its name.
import { execFileSync } from 'node:child_process';
import { type FSWatcher, watch } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, configToEnv, PROJECT_ROOT, parseConfig } from '../../src/config.js';
import { storeDir } from '../../src/data-layout.js';
import { type LineSink, type ManagedProcess, startProcess } from '../../src/stack/managed-process.js';
import { startNginx } from '../../src/stack/nginx-front.js';
import { type OrphanGuard, startOrphanGuard } from '../../src/stack/orphan-guard.js';
import { waitForRedis } from '../../src/stack/private-redis.js';
import { API_ENTRY, WORKER_ENTRY } from '../../src/stack/stack.js';
import { nodeEntry, type SupervisedPool, startSupervisedPool } from '../../src/stack/supervised-pool.js';
import { createRenderStore } from '../../src/store/render-store.js';
import { startPlainNginx } from './plain-nginx.js';
import { requireProgram } from './system-programs.js';

export type ServiceNode = 'svc1' | 'svc2';
export type RenderNode = ServiceNode | 'wrk';
const NODES = ['redis', 'origin', 'svc1', 'svc2', 'wrk', 'front'] as const;
type NodeName = (typeof NODES)[number];
/** Host part of each node's address in the run's /24 (.1 is this machine's end). */
const HOST_PART: Record<NodeName, number> = { redis: 2, origin: 3, svc1: 11, svc2: 12, wrk: 21, front: 30 };
const PORT = 8080;
const STOP_GRACE_MS = 3_000;

export interface Cluster {
  /** This run's prefix of every namespace (mp3seg-<pid>). */
  readonly prefix: string;
  /** The front nginx, as this machine reaches it. */
  readonly frontUrl: string;
  /** A service node's own nginx (bypassing the front). */
  nodeUrl(node: ServiceNode): string;
  readonly storeDir: string;
  /** The Redis every node uses, as this machine reaches it. */
  readonly redisUrl: string;
  /** Render attempts by each node's workers: the keys of the temp files they opened in the shared store (inotify). */
  readonly rendersByNode: Record<RenderNode, number>;
  /** Every line every process printed, prefixed with its node. */
  readonly logs: string[];
  /** Stops Redis (SIGTERM: it writes its append-only file and exits), and starts it again on the same data. */
  stopRedis(): Promise<void>;
  startRedis(): Promise<void>;
  /** The origin from now on: answering, every request a 500, or stalled (its link down: nothing answers). */
  originFault(fault: 'none' | '500' | 'stall'): Promise<void>;
  /** Kills a service node at once: SIGKILL to its nginx, API and workers (their process groups), no restart. */
  killNode(node: ServiceNode): Promise<void>;
  /** Starts a killed service node again on its own DATA_DIR (its nginx cache as the kill left it), as a reboot would. */
  startNode(node: ServiceNode): Promise<void>;
  stop(): Promise<void>;
  /** Process groups started by this run (for the check that none is left). */
  readonly groups: ReadonlySet<number>;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

/**
 * Removes what an earlier run killed before its teardown left (its namespaces, its host link, its folder),
 * recognised by the pid in their names being gone. A live run's are never touched.
 */
export async function sweepDeadRuns(): Promise<string[]> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  const deadPid = (name: string, pattern: RegExp) => {
    const pid = Number(pattern.exec(name)?.[1]);
    return pid > 0 && pid !== process.pid && !alive(pid);
  };
  const removed: string[] = [];
  for (const name of namespacesOf('mp3seg')) {
    if (!deadPid(name, /^mp3seg-(\d+)-/)) continue;
    ip('netns', 'delete', name);
    removed.push(name);
  }
  // The host end of a run's link goes with its peer in the bridge's namespace, unless something still holds that.
  for (const line of ip('-o', 'link', 'show').split('\n')) {
    const link = /^\d+: (mp3s\d+)[@:]/.exec(line)?.[1];
    if (link && deadPid(link, /^mp3s(\d+)$/)) {
      ip('link', 'delete', link);
      removed.push(link);
    }
  }
  for (const entry of await readdir(os.tmpdir())) {
    if (!deadPid(entry, /^mp3seg-(\d+)-/)) continue;
    await rm(path.join(os.tmpdir(), entry), { recursive: true, force: true });
    removed.push(path.join(os.tmpdir(), entry));
  }
  return removed;
}

/** The run's namespaces still present, by the prefix of their names. */
export function namespacesOf(prefix: string): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`${prefix}-`));
}

async function waitForHttp(url: string, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} (${url}) did not answer within ${timeoutMs} ms`);
    await new Promise((wake) => setTimeout(wake, 100));
  }
}

export async function startCluster(options: { env?: Record<string, string> } = {}): Promise<Cluster> {
  if (process.getuid?.() !== 0) throw new Error('the cluster test makes network namespaces and veth pairs: run it as root');
  const nginx = requireProgram('nginx', 'nginx');
  const redisServer = requireProgram('redis-server', 'redis-server');
  const prefix = `mp3seg-${process.pid}`;
  // A run killed before its teardown (a vitest stopped by force) left its namespaces; they would hold its subnet.
  const swept = await sweepDeadRuns();
  // One /24 per run (by pid), so two runs on one machine do not route to each other's nodes.
  const subnet = `10.213.${(process.pid % 250) + 1}`;
  const hostLink = `mp3s${process.pid}`.slice(0, 15);
  if (
    ip('-4', 'route', 'show', 'to', 'match', `${subnet}.1`)
      .split('\n')
      .some((line) => line && !line.startsWith('default'))
  )
    throw new Error(`${subnet}.0/24 is already routed on this machine; the cluster test needs it for its own nodes`);
  const ns = (node: NodeName | 'br') => `${prefix}-${node}`;
  const addr = (node: NodeName) => `${subnet}.${HOST_PART[node]}`;
  if (swept.length > 0) console.log(`[cluster] removed what runs killed before their teardown left: ${swept.join(', ')}`);
  const logs: string[] = [];
  const sinkOf =
    (node: string): LineSink =>
    (name, line) =>
      logs.push(`${node}/${name}: ${line}`);
  const guard: OrphanGuard = startOrphanGuard(sinkOf('cluster'));
  const groups = new Set<number>();
  const pools: Array<{ node: NodeName; pool: SupervisedPool }> = [];
  const singles: Array<{ node: NodeName; process: ManagedProcess }> = [];
  const root = await mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  await chmod(root, 0o755); // nginx runs as 'nobody' and must reach the DATA_DIRs and the store below it
  const shared = path.join(root, 'shared-store');
  const rendersByNode: Record<RenderNode, number> = { svc1: 0, svc2: 0, wrk: 0 };
  const pidsOf: Record<RenderNode, Set<number>> = { svc1: new Set(), svc2: new Set(), wrk: new Set() };
  let watcher: FSWatcher | undefined;
  let stopped = false;

  const track = (child: ManagedProcess) => {
    groups.add(child.pid);
    return child;
  };

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    watcher?.close();
    // Front first, then what uses Redis and the origin, then those two.
    const order: NodeName[] = ['front', 'svc1', 'svc2', 'wrk', 'origin', 'redis'];
    for (const node of order) {
      await Promise.all([
        ...pools.filter((p) => p.node === node).map((p) => p.pool.stop(STOP_GRACE_MS)),
        ...singles.filter((s) => s.node === node).map((s) => s.process.stop(STOP_GRACE_MS)),
      ]);
    }
    await guard.close();
    // Deleting a namespace deletes the veth ends in it, and so their peers.
    for (const name of [...NODES.map(ns), ns('br')]) {
      if (namespacesOf(prefix).includes(name)) ip('netns', 'delete', name);
    }
    if (new RegExp(`^\\d+: ${hostLink}[@:]`, 'm').test(ip('-o', 'link', 'show'))) ip('link', 'delete', hostLink);
    await rm(root, { recursive: true, force: true });
  }

  try {
    // The network: a bridge in its own namespace, one veth per node (eth0 inside), one to this machine.
    ip('netns', 'add', ns('br'));
    ip('-n', ns('br'), 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', ns('br'), 'link', 'set', 'br0', 'up');
    for (const [index, node] of NODES.entries()) {
      ip('netns', 'add', ns(node));
      ip('link', 'add', 'eth0', 'netns', ns(node), 'type', 'veth', 'peer', 'name', `p${index}`, 'netns', ns('br'));
      ip('-n', ns('br'), 'link', 'set', `p${index}`, 'master', 'br0', 'up');
      ip('-n', ns(node), 'addr', 'add', `${addr(node)}/24`, 'dev', 'eth0');
      ip('-n', ns(node), 'link', 'set', 'eth0', 'up');
      ip('-n', ns(node), 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', 'phost', 'netns', ns('br'));
    ip('-n', ns('br'), 'link', 'set', 'phost', 'master', 'br0', 'up');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', hostLink);
    ip('link', 'set', hostLink, 'up');
    const launcher = (node: NodeName) => ['ip', 'netns', 'exec', ns(node)];

    // Redis: append-only, so a restart keeps the queue.
    const redisDir = path.join(root, 'redis');
    await mkdir(redisDir);
    const redisUrl = `redis://${addr('redis')}:6379`;
    const startRedis = async () => {
      const redis = track(
        startProcess({
          name: 'redis-server',
          command: redisServer,
          args: [
            '--bind',
            addr('redis'),
            '--port',
            '6379',
            '--protected-mode',
            'no',
            '--dir',
            redisDir,
            '--appendonly',
            'yes',
            '--save',
            '',
          ],
          launcher: launcher('redis'),
          sink: sinkOf('redis'),
          guard,
          levelOf: () => 'debug',
        }),
      );
      singles.push({ node: 'redis', process: redis });
      await waitForRedis(redisUrl, redis);
    };
    const stopRedis = async () => {
      const running = singles.filter((s) => s.node === 'redis');
      await Promise.all(running.map((s) => s.process.stop(STOP_GRACE_MS)));
      for (const s of running) singles.splice(singles.indexOf(s), 1);
    };

    // The origin: the demo media under /media/, served by nginx (Range and ETag are its own).
    const originRoot = path.join(root, 'origin');
    // While this file exists, the origin answers every request with 500 (originFault('500')).
    const originFailFlag = path.join(root, 'origin-fails');
    await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(originRoot, 'media', 'demo'), { recursive: true });
    const origin = track(
      await startPlainNginx({
        program: nginx,
        state: path.join(root, 'origin-nginx'),
        http: `  access_log ${root}/origin-nginx/access.log;
  server { listen ${addr('origin')}:${PORT}; root ${originRoot}; location / { if (-f ${originFailFlag}) { return 500; } } }`,
        launcher: launcher('origin'),
        sink: sinkOf('origin'),
        guard,
      }),
    );
    singles.push({ node: 'origin', process: origin });
    await Promise.all([startRedis(), waitForHttp(`http://${addr('origin')}:${PORT}/media/demo/talk.mp3`, 'the origin')]);

    // The shared store, and which node's worker opened each render's temp file (its name holds the pid).
    await mkdir(path.join(shared, '.tmp'), { recursive: true, mode: 0o755 });
    const seen = new Set<string>();
    watcher = watch(path.join(shared, '.tmp'), (_, name) => {
      // <key>.<pid>.<host>.<random>...: a render may open more than one temp file; a key taken by a worker counts once.
      const [key, pid] = name?.split('.') ?? [];
      const attempt = `${key}.${pid}`;
      if (!key || seen.has(attempt)) return;
      const node = (Object.keys(pidsOf) as RenderNode[]).find((n) => pidsOf[n].has(Number(pid)));
      if (!node) return;
      seen.add(attempt);
      rendersByNode[node] += 1;
    });

    const configs = new Map<RenderNode, Config>();
    const configOf = async (node: RenderNode): Promise<Config> => {
      const made = configs.get(node);
      if (made) return made; // a node started again keeps its DATA_DIR
      const dataDir = path.join(root, node, 'data');
      await mkdir(dataDir, { recursive: true });
      // DATA_DIR/store is the shared directory, as a mount would make it.
      await symlink(shared, storeDir(dataDir));
      const emptyRoot = path.join(root, node, 'media');
      await mkdir(emptyRoot);
      const config = parseConfig({
        HOST: '0.0.0.0',
        PORT: String(PORT),
        API_PORT: '3000',
        DATA_DIR: dataDir,
        MEDIA_ROOT: emptyRoot,
        MEDIA_ORIGIN: `http://${addr('origin')}:${PORT}/media`,
        REDIS_URL: redisUrl,
        WORKERS: '1',
        LOG_LEVEL: 'warn',
        ...options.env,
      });
      configs.set(node, config);
      return config;
    };
    const startWorkers = (node: RenderNode, config: Config) => {
      const env = { ...process.env, ...configToEnv(config) };
      const store = createRenderStore({ dir: storeDir(config.dataDir) });
      const start = nodeEntry({ entry: WORKER_ENTRY, env, sink: sinkOf(node), guard, launcher: launcher(node) });
      const pool = startSupervisedPool({
        name: 'worker',
        count: config.workers,
        start: async (name) => {
          const child = track(await start(name));
          pidsOf[node].add(child.pid);
          return child;
        },
        sink: sinkOf(node),
        cleanUpAfter: async (pid) => `removed ${await store.removeTemps(pid)} temp file(s)`,
      });
      pools.push({ node, pool });
      return pool.ready;
    };
    const startService = async (node: ServiceNode) => {
      const config = await configOf(node);
      const env = { ...process.env, ...configToEnv(config) };
      const apiStart = nodeEntry({ entry: API_ENTRY, env, sink: sinkOf(node), guard, launcher: launcher(node) });
      const api = startSupervisedPool({ name: 'api', count: 1, start: async (name) => track(await apiStart(name)), sink: sinkOf(node) });
      pools.push({ node, pool: api });
      await Promise.all([startWorkers(node, config), api.ready]);
      const front = startSupervisedPool({
        name: 'nginx',
        count: 1,
        start: async () => track(await startNginx({ program: nginx, config, sink: sinkOf(node), guard, launcher: launcher(node) })),
        ready: () => waitForHttp(`http://${addr(node)}:${PORT}/healthz`, `${node}'s nginx`),
        sink: sinkOf(node),
      });
      pools.push({ node, pool: front });
      await front.ready;
    };
    await Promise.all([startService('svc1'), startService('svc2'), configOf('wrk').then((config) => startWorkers('wrk', config))]);

    // The front: round robin over the two service nodes; a node that refuses or resets is skipped (GET is
    // idempotent), nginx's own failures are 503 + Retry-After; X-Node says which node answered.
    const front = track(
      await startPlainNginx({
        program: nginx,
        state: path.join(root, 'front-nginx'),
        workerConnections: 4096,
        launcher: launcher('front'),
        sink: sinkOf('front'),
        guard,
        http: `
  access_log ${root}/front-nginx/access.log;
  upstream services {
    server ${addr('svc1')}:${PORT} max_fails=1 fail_timeout=2s;
    server ${addr('svc2')}:${PORT} max_fails=1 fail_timeout=2s;
    keepalive 64;
  }
  server {
    listen ${addr('front')}:${PORT};
    add_header X-Node $upstream_addr always;
    location / {
      proxy_pass http://services;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      proxy_read_timeout 70s;
      proxy_next_upstream error timeout http_502 http_504;
    }
    error_page 502 504 =503 /_unavailable;
    location = /_unavailable {
      internal;
      default_type application/problem+json;
      add_header Retry-After 1 always;
      add_header X-Node $upstream_addr always;
      return 200 '{"type":"urn:mp3-segments:problem:unavailable","title":"Service unavailable","status":503}\\n';
    }
  }`,
      }),
    );
    singles.push({ node: 'front', process: front });
    const frontUrl = `http://${addr('front')}:${PORT}`;
    await waitForHttp(`${frontUrl}/readyz`, 'the front');

    return {
      prefix,
      frontUrl,
      nodeUrl: (node) => `http://${addr(node)}:${PORT}`,
      storeDir: shared,
      redisUrl,
      rendersByNode,
      logs,
      groups,
      stopRedis,
      startRedis,
      async originFault(fault) {
        if (fault === '500') await writeFile(originFailFlag, '');
        else await rm(originFailFlag, { force: true });
        // A link down on the origin's side: packets to it are dropped at the bridge, so connections hang.
        ip('-n', ns('origin'), 'link', 'set', 'eth0', fault === 'stall' ? 'down' : 'up');
      },
      async killNode(node) {
        const mine = pools.filter((p) => p.node === node).map((p) => p.pool);
        // A crash, not a stop: SIGKILL to every process group of the node (nginx, API, workers and their
        // children), nothing answered on the way out. The pools' stop follows in the same tick, so none
        // of them is restarted; it only collects the ends.
        for (const pool of mine) for (const child of pool.processes) process.kill(-child.pid, 'SIGKILL');
        await Promise.all(mine.map((pool) => pool.stop(0)));
        for (const pool of mine)
          pools.splice(
            pools.findIndex((p) => p.pool === pool),
            1,
          );
      },
      startNode: startService,
      stop,
    };
  } catch (error) {
    await stop().catch((stopError: Error) => logs.push(`cluster: stop failed: ${stopError.message}`));
    throw new Error(`${(error as Error).message}\n${logs.slice(-30).join('\n')}`);
  }
}
