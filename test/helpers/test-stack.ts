// Starts the real stack (Redis, worker processes, API, nginx) for a test file: free ports, a temp
// DATA_DIR and a temp MEDIA_ROOT holding the demo media plus a few broken sources. Stops it by pid and
// removes the temp folders.
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { configToEnv, parseConfig, PROJECT_ROOT, type Config } from '../../src/config.js';
import { QUEUE_NAME } from '../../src/queue/render-job.js';
import { freePort } from '../../src/stack/free-port.js';
import { startProcess } from '../../src/stack/managed-process.js';
import { API_ENTRY, startStack, type Stack } from '../../src/stack/stack.js';

export interface TestStack {
  stack: Stack;
  config: Config;
  /** nginx front. */
  url: string;
  /** The API itself, bypassing nginx. */
  apiUrl: string;
  /** Every line the stack's processes printed, for failure messages. */
  logs: string[];
  stop(): Promise<void>;
}

/** Makes the hour-long source (fixtures/make-long-source.sh; not committed, a few seconds) at `file`. */
export async function makeLongSource(file: string): Promise<void> {
  const made = spawnSync('bash', [path.join(PROJECT_ROOT, 'fixtures', 'make-long-source.sh'), file], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`make-long-source.sh failed: ${made.stderr}`);
}

/**
 * `corpus`: also copy fixtures/corpus (the regression corpus) to MEDIA_ROOT/corpus. `longSource`: also make
 * the hour-long source (fixtures/make-long-source.sh; not committed) as MEDIA_ROOT/<longSource>.mp3.
 */
export async function startTestStack(
  env: Record<string, string> = {},
  media: { corpus?: boolean; longSource?: string } = {},
): Promise<TestStack> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-test-'));
  // mkdtemp makes it 0700; nginx runs as 'nobody' and must reach DATA_DIR below it.
  await chmod(root, 0o755);
  const mediaRoot = path.join(root, 'media');
  await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(mediaRoot, 'demo'), { recursive: true });
  await mkdir(path.join(mediaRoot, 'bad'), { recursive: true });
  await writeFile(path.join(mediaRoot, 'bad', 'not-audio.mp3'), 'This is a text file wearing an .mp3 name.\n'.repeat(50));
  await writeFile(path.join(mediaRoot, 'bad', 'empty.mp3'), '');
  // A real MP3 start (its Info header promises 90 s) followed by bytes that are no audio at all.
  const tones = await readFile(path.join(mediaRoot, 'demo', 'tones.mp3'));
  await writeFile(
    path.join(mediaRoot, 'bad', 'damaged.mp3'),
    Buffer.concat([tones.subarray(0, 20_000), Buffer.alloc(tones.length - 20_000, 0x5a)]),
  );
  if (media.corpus) await cp(path.join(PROJECT_ROOT, 'fixtures', 'corpus'), path.join(mediaRoot, 'corpus'), { recursive: true });
  if (media.longSource) await makeLongSource(path.join(mediaRoot, `${media.longSource}.mp3`));
  const config = parseConfig({
    PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    DATA_DIR: path.join(root, 'data'),
    MEDIA_ROOT: mediaRoot,
    WORKERS: '2',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const logs: string[] = [];
  const stack = await startStack(config, (name, line) => logs.push(`${name}: ${line}`)).catch(async (error: Error) => {
    await rm(root, { recursive: true, force: true });
    throw new Error(`${error.message}\n${logs.slice(-20).join('\n')}`);
  });
  return {
    stack,
    config,
    url: stack.url,
    apiUrl: stack.apiUrl,
    logs,
    async stop() {
      await stack.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Sum of segment_renders_total over modes, as /metrics reports it. */
export async function rendersTotal(apiUrl: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  return [...text.matchAll(/^segment_renders_total\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
}

export async function getBytes(url: string, init?: RequestInit): Promise<{ response: Response; body: Buffer }> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

/** An answer read to its end, or to where the server cut it short of its Content-Length. */
export interface MaybeCutAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** False when the connection ended before the body's stated length (a streamed render that failed midway). */
  whole: boolean;
}

/**
 * GET that tells a cut answer from a whole one instead of failing on it: a render streamed while it is
 * written can only fail midway by ending short of the length it stated.
 */
export function getMaybeCut(url: string, options: { signal?: AbortSignal } = {}): Promise<MaybeCutAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false, signal: options.signal }, (response) => {
      const chunks: Buffer[] = [];
      const finish = () => {
        const body = Buffer.concat(chunks);
        const stated = response.headers['content-length'];
        const whole = response.complete && (stated === undefined || Number(stated) === body.length);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, whole });
      };
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', finish);
      response.on('aborted', finish);
      response.on('error', finish);
    });
    request.on('error', reject);
  });
}

/**
 * GET (or another method) with the path sent exactly as written (fetch would resolve '..' and '%2e%2e'
 * before sending), on a fresh connection; rejects if no whole answer arrives within `deadlineMs`.
 */
export function rawGet(
  baseUrl: string,
  rawPath: string,
  options: { headers?: Record<string, string>; method?: string; deadlineMs?: number } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port } = new URL(baseUrl);
  const deadlineMs = options.deadlineMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const request = http.request(
      { hostname, port, path: rawPath, method: options.method ?? 'GET', headers: options.headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          clearTimeout(timer);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) });
        });
        response.on('error', reject);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer within ${deadlineMs} ms for ${rawPath.slice(0, 200)}`));
    }, deadlineMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end();
  });
}

export interface ProcessFacts {
  pid: number;
  ppid: number;
  pgrp: number;
}

/** Every live (not zombie) process, read from /proc, so nothing is ever matched by name. */
export async function liveProcesses(): Promise<ProcessFacts[]> {
  const facts: ProcessFacts[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name (which may hold spaces) start with ") state ppid pgrp".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (stat && fields[0] !== 'Z') facts.push({ pid: Number(entry), ppid: Number(fields[1]), pgrp: Number(fields[2]) });
  }
  return facts;
}

/** Pids of live processes in a process group. */
export async function processesInGroup(pgid: number): Promise<number[]> {
  return (await liveProcesses()).filter((p) => p.pgrp === pgid).map((p) => p.pid);
}

/** Pids of every live process below `pid` (children, their children...), and of their process groups. */
export async function descendantsOf(pid: number): Promise<number[]> {
  const all = await liveProcesses();
  const found = new Set<number>();
  let frontier = [pid];
  while (frontier.length > 0) {
    const children = all.filter((p) => frontier.includes(p.ppid) && !found.has(p.pid)).map((p) => p.pid);
    for (const child of children) found.add(child);
    frontier = children;
  }
  for (const p of all) if (found.has(p.pgrp)) found.add(p.pid);
  return [...found];
}

/**
 * The live processes holding a listening TCP socket on `port` (found by the socket's inode in /proc, not by
 * name): whatever serves that port now, whoever started it.
 */
export async function listeningOn(port: number): Promise<ProcessFacts[]> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1)) {
      // sl local_address rem_address st ... inode; st 0A is LISTEN.
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A' && parseInt(fields[1]?.split(':')[1] ?? '', 16) === port) inodes.add(`socket:[${fields[9]}]`);
    }
  }
  const holders: ProcessFacts[] = [];
  for (const facts of await liveProcesses()) {
    const fds = await readdir(`/proc/${facts.pid}/fd`).catch(() => [] as string[]);
    const links = await Promise.all(fds.map((fd) => readlink(`/proc/${facts.pid}/fd/${fd}`).catch(() => '')));
    if (links.some((link) => inodes.has(link))) holders.push(facts);
  }
  return holders;
}

/**
 * The render queue's events from this moment on. A bare QueueEvents starts reading at the stream's end only
 * once its loop runs, a moment after waitUntilReady: an event in between (a job taken at once) was missed.
 */
export async function queueEventsFromNow(t: TestStack): Promise<QueueEvents> {
  const redis = new Redis(t.stack.redisUrl);
  try {
    const [last] = await redis.xrevrange(`bull:${QUEUE_NAME}:events`, '+', '-', 'COUNT', 1);
    const events = new QueueEvents(QUEUE_NAME, { connection: { url: t.stack.redisUrl }, lastEventId: last?.[0] ?? '0' });
    await events.waitUntilReady();
    return events;
  } finally {
    await redis.quit();
  }
}

/** Resolves when `check` returns a value other than undefined; polls a condition, not a clock. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Current value of the segment_waiting_requests gauge of one API process. */
export async function waitingRequests(apiUrl: string): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  return Number(/^segment_waiting_requests (\d+)$/m.exec(text)?.[1] ?? NaN);
}

/** Another API process on the same Redis, store and media (as on a second machine); stopped by the caller. */
export async function startExtraApi(t: TestStack, env: Record<string, string> = {}): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const api = startProcess({
    name: 'extra-api',
    command: process.execPath,
    args: [API_ENTRY],
    env: {
      ...process.env,
      ...configToEnv(t.config),
      REDIS_URL: t.stack.redisUrl,
      API_PORT: String(port),
      PORT: String(await freePort()),
      ...env,
    },
    ipc: true,
    sink: (name, line) => t.logs.push(`${name}: ${line}`),
  });
  await api.ready;
  return { url: `http://127.0.0.1:${port}`, stop: () => api.stop(5_000) };
}
