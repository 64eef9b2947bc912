// Supervision under `npm start` (issue 14, finding 4): every process it starts is restarted when it dies
// (nginx and the private Redis too, not only the workers and the API); none outlives a SIGKILLed
// `npm start`; and a start after a killed run, with an nginx and a Redis of that run still on its DATA_DIR,
// stops them and starts cleanly instead of failing on the port or running two Redis on one data folder.
import { chmod, cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { nginxDir, nginxPidFile, redisDir, redisPidFile, stackLockFile } from '../../src/data-layout.js';
import { freePort } from '../../src/stack/free-port.js';
import { processCommandLine, readPidFile } from '../../src/stack/leftover-process.js';
import { startProcess, type ManagedProcess } from '../../src/stack/managed-process.js';
import { findProgram } from '../../src/stack/system-tools.js';
import { descendantsOf, eventually, processesInGroup } from '../helpers/test-stack.js';

const STACK_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'stack', 'main.js');

let root: string;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let url: string;
const logs: string[] = [];
/** Everything this file started itself, stopped by pid in afterAll whatever happened. */
const started: ManagedProcess[] = [];

function start(name: string, command: string, args: string[], extra: { env?: NodeJS.ProcessEnv } = {}): ManagedProcess {
  const child = startProcess({ name, command, args, ...extra, sink: (from, line) => logs.push(`${from}: ${line}`) });
  started.push(child);
  return child;
}

const status = (address: string) =>
  fetch(address, { signal: AbortSignal.timeout(2_000) }).then(
    (response) => response.status,
    () => 0,
  );

async function startNpmStart(): Promise<ManagedProcess> {
  const stack = start('npm-start', process.execPath, [STACK_ENTRY], { env });
  await eventually(async () => ((await status(`${url}/readyz`)) === 200 ? true : undefined), 'the stack to be ready', 45_000).catch(
    (error: Error) => Promise.reject(new Error(`${error.message}\n${logs.slice(-30).join('\n')}`)),
  );
  return stack;
}

/** The private Redis below the stack's process: redis-server retitles itself "redis-server <address>". */
async function redisPidUnder(stackPid: number): Promise<number | undefined> {
  for (const pid of await descendantsOf(stackPid)) {
    if (/^\S*redis-server\s/.test((await processCommandLine(pid)) ?? '')) return pid;
  }
  return undefined;
}

const alive = async (pids: number[]) =>
  (await Promise.all(pids.map(async (pid) => ((await processCommandLine(pid)) === null ? [] : [pid])))).flat();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-supervision-'));
  await chmod(root, 0o755); // nginx runs as 'nobody' and must reach DATA_DIR
  dataDir = path.join(root, 'data');
  await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(root, 'media', 'demo'), { recursive: true });
  const [port, api] = [await freePort(), await freePort()];
  url = `http://127.0.0.1:${port}`;
  env = {
    ...process.env,
    PORT: String(port),
    API_PORT: String(api),
    DATA_DIR: dataDir,
    MEDIA_ROOT: path.join(root, 'media'),
    WORKERS: '1',
    LOG_LEVEL: 'warn',
  };
});
afterAll(async () => {
  await Promise.all(started.map((child) => child.stop(5_000)));
  if (root) await rm(root, { recursive: true, force: true });
});

describe('npm start supervises every process it starts', () => {
  let stack: ManagedProcess;

  it('nginx killed is started again and the front answers again', async () => {
    stack = await startNpmStart();
    const killed = (await readPidFile(nginxPidFile(dataDir)))!;
    // Its workers too: they would go on serving the port, orphaned, and keep the new master from binding it.
    const group = await processesInGroup(killed);
    expect(group.length).toBeGreaterThan(1);
    process.kill(killed, 'SIGKILL');
    const restarted = await eventually(async () => {
      const pid = await readPidFile(nginxPidFile(dataDir));
      return pid !== null && pid !== killed && (await status(`${url}/healthz`)) === 200 ? pid : undefined;
    }, 'a new nginx to answer');
    expect(await alive(group)).toEqual([]);
    expect(await descendantsOf(stack.pid)).toContain(restarted);
  });

  it('the private Redis killed is started again on its port, with its data; the stack is ready again', async () => {
    const killed = (await redisPidUnder(stack.pid))!;
    expect(killed).toBeGreaterThan(0);
    process.kill(killed, 'SIGKILL');
    const restarted = await eventually(async () => {
      const pid = await redisPidUnder(stack.pid);
      return pid !== undefined && pid !== killed && (await status(`${url}/readyz`)) === 200 ? pid : undefined;
    }, 'a new Redis and /readyz 200');
    expect(await readPidFile(redisPidFile(dataDir))).toBe(restarted);
    // A miss renders: the API and the worker reconnected to the Redis on the same URL.
    expect(await status(`${url}/segments/demo/chirp/1-3.mp3`)).toBe(200);
  });

  it('SIGKILL of npm start leaves no process of the stack running', async () => {
    const children = await descendantsOf(stack.pid);
    // Redis, the worker, the API, nginx's master and workers, the orphan guard.
    expect(children.length).toBeGreaterThanOrEqual(5);
    process.kill(stack.pid, 'SIGKILL');
    await stack.exited;
    const left = await eventually(async () => ((await alive(children)).length === 0 ? [] : undefined), 'every child to end', 15_000).catch(
      async () => Promise.all((await alive(children)).map(async (pid) => `${pid}: ${await processCommandLine(pid)}`)),
    );
    expect(left).toEqual([]);
    expect(await status(`${url}/healthz`)).toBe(0);
  });

  it('a start after the killed run, with its nginx and Redis still on DATA_DIR, stops them and starts cleanly', async () => {
    // The killed run's lock names a dead pid; its nginx (on the front port) and its Redis (on the data
    // folder) are put back as a run killed with its guard would have left them, with their pid files.
    expect(await readPidFile(stackLockFile(dataDir))).not.toBeNull();
    const nginxLeftover = start('old-nginx', findProgram('nginx')!, [
      '-p',
      nginxDir(dataDir),
      '-c',
      path.join(nginxDir(dataDir), 'nginx.conf'),
      '-e',
      path.join(dataDir, 'logs', 'nginx', 'error.log'),
    ]);
    const redisLeftover = start('old-redis', findProgram('redis-server')!, [
      ...['--port', String(await freePort()), '--bind', '127.0.0.1', '--dir', redisDir(dataDir)],
      ...['--pidfile', redisPidFile(dataDir), '--appendonly', 'yes', '--save', ''],
    ]);
    await eventually(async () => ((await status(`${url}/healthz`)) !== 0 ? true : undefined), 'the old nginx to hold the port');
    await eventually(async () => ((await readPidFile(redisPidFile(dataDir))) === redisLeftover.pid ? true : undefined), 'the old Redis');

    const again = await startNpmStart();
    // Stopped gracefully (not killed) before their successors started.
    const ended = (child: ManagedProcess) =>
      Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 10_000, 'still running'))]);
    expect(await ended(nginxLeftover)).toBe(0);
    expect(await ended(redisLeftover)).toBe(0);
    expect(await readPidFile(stackLockFile(dataDir))).toBe(again.pid);
    expect(logs.filter((line) => line.includes('left running by an earlier run'))).toHaveLength(2);
    expect(await status(`${url}/segments/demo/chirp/1-3.mp3`)).toBe(200);
    // While it runs, another start on the same DATA_DIR stops at once and names it.
    const second = start('second-npm-start', process.execPath, [STACK_ENTRY], {
      env: { ...env, PORT: String(await freePort()), API_PORT: String(await freePort()) },
    });
    expect(await second.exited).toBe(1);
    expect(logs).toContain(
      `second-npm-start: Another stack (pid ${again.pid}) runs on DATA_DIR ${dataDir}; stop it first, or use another DATA_DIR.`,
    );

    const children = await descendantsOf(again.pid);
    process.kill(again.pid, 'SIGTERM');
    expect(await again.exited).toBe(0);
    expect(await Promise.all((await alive(children)).map(async (pid) => `${pid}: ${await processCommandLine(pid)}`))).toEqual([]);
    expect(await readFile(stackLockFile(dataDir), 'utf8').catch(() => 'removed')).toBe('removed');
  }, 90_000);
});
