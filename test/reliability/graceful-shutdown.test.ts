// Graceful shutdown and restart: SIGTERM to the whole stack (`npm start`'s process) while requests wait on
// renders. Every waiting request gets an answer (the render, or 503 + Retry-After, or, for a render that was
// being streamed, an answer cut short of its length, which nginx does not keep), renders in flight finish
// or go back to the queue, nothing is left running or half-written; started again on the same DATA_DIR,
// the queue drains and every segment is served whole, each rendered exactly once.
import { cp, mkdir, mkdtemp, readdir, readFile, rm, chmod } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { storeDir } from '../../src/data-layout.js';
import { QUEUE_NAME } from '../../src/queue/render-job.js';
import { freePort } from '../../src/stack/free-port.js';
import { startProcess, type ManagedProcess } from '../../src/stack/managed-process.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import { descendantsOf, eventually, getBytes, getMaybeCut, rendersTotal, waitingRequests } from '../helpers/test-stack.js';

const STACK_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'stack', 'main.js');
/** Longer than the workers' 4 s stop grace: cut off at the stop, it must go back to the queue. */
const LONG = { url: '/segments/long/hour/600-900.mp3?mode=exact', seconds: 300 };
const SHORT = [0, 1, 2, 3, 4, 5].map((i) => ({
  url: `/segments/demo/tones/${i}-${i + 80}.mp3?mode=exact&bitrate=${[320, 256, 224, 192, 160, 96][i]}`,
  seconds: 80,
}));
const ALL = [LONG, ...SHORT];

let root: string;
let env: NodeJS.ProcessEnv;
let url: string;
let apiUrl: string;
const logs: string[] = [];
let running: ManagedProcess | null = null;

async function startNpmStart(): Promise<ManagedProcess> {
  const stack = startProcess({
    name: 'npm-start',
    command: process.execPath,
    args: [STACK_ENTRY],
    env,
    sink: (name, line) => logs.push(`${name}: ${line}`),
  });
  running = stack;
  await eventually(
    async () =>
      (await fetch(`${url}/readyz`).then(
        (r) => r.status,
        () => 0,
      )) === 200
        ? true
        : undefined,
    'the stack to be ready',
    60_000,
  );
  return stack;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-shutdown-'));
  await chmod(root, 0o755);
  const media = path.join(root, 'media');
  await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(media, 'demo'), { recursive: true });
  await mkdir(path.join(media, 'long'));
  const made = spawnSync('bash', [path.join(PROJECT_ROOT, 'fixtures', 'make-long-source.sh'), path.join(media, 'long', 'hour.mp3')], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`make-long-source.sh failed: ${made.stderr}`);
  const [port, api] = [await freePort(), await freePort()];
  url = `http://127.0.0.1:${port}`;
  apiUrl = `http://127.0.0.1:${api}`;
  env = {
    ...process.env,
    PORT: String(port),
    API_PORT: String(api),
    DATA_DIR: path.join(root, 'data'),
    MEDIA_ROOT: media,
    WORKERS: '2',
    LOG_LEVEL: 'warn',
    JOB_LOCK_MS: '2000',
    WAIT_TIMEOUT_MS: '60000',
  };
});
afterAll(async () => {
  await running?.stop(10_000);
  if (root) await rm(root, { recursive: true, force: true });
});

/** Every render in the store has its facts beside it and is whole MP3 of the length they state. */
async function checkStore(): Promise<number> {
  const dir = storeDir(path.join(root, 'data'));
  let renders = 0;
  for (const shard of (await readdir(dir)).filter((name) => /^[0-9a-f]{2}$/.test(name))) {
    for (const name of (await readdir(path.join(dir, shard))).filter((file) => file.endsWith('.mp3'))) {
      const facts = JSON.parse(await readFile(path.join(dir, shard, name.replace(/\.mp3$/, '.json')), 'utf8')) as {
        durationSeconds: number;
        bytes: number;
      };
      const audio = await readFile(path.join(dir, shard, name));
      expect(audio.length).toBe(facts.bytes);
      expect(Math.abs(readMp3(audio).durationSeconds - facts.durationSeconds)).toBeLessThanOrEqual(0.001);
      renders += 1;
    }
  }
  expect(await readdir(path.join(dir, '.tmp')).catch(() => [])).toEqual([]);
  return renders;
}

describe('SIGTERM to the stack while requests wait', () => {
  let rendersAtStart = 0;

  it('answers every waiting request (the render, 503 + Retry-After, or a streamed render cut short), leaves no process and no partial file', async () => {
    const stack = await startNpmStart();
    rendersAtStart = await rendersTotal(apiUrl);
    const ask = (segment: { url: string }) => getMaybeCut(url + segment.url, { signal: AbortSignal.timeout(30_000) });
    // The long render first, and in ffmpeg (its temp file exists) before the rest are asked, so the stop
    // surely cuts a render off; the short ones then queue behind it and the other worker.
    const answers = [ask(LONG)];
    await eventually(
      async () => ((await readdir(path.join(storeDir(path.join(root, 'data')), '.tmp')).catch(() => [])).length > 0 ? true : undefined),
      'the long render to start',
    );
    answers.push(...SHORT.map(ask));
    await eventually(async () => ((await waitingRequests(apiUrl)) >= 4 ? true : undefined), 'requests to wait');
    const children = await descendantsOf(stack.pid);
    expect(children.length).toBeGreaterThanOrEqual(5); // Redis, 2 workers, the API, nginx (and its workers)

    const stopping = performance.now();
    process.kill(stack.pid, 'SIGTERM');
    const code = await stack.exited;
    const stopSeconds = (performance.now() - stopping) / 1000;
    running = null;
    expect(code).toBe(0);

    const statuses: string[] = [];
    for (const [i, answer] of (await Promise.all(answers)).entries()) {
      // A render streamed while it was written and stopped midway: its answer ends short of its length.
      statuses.push(answer.whole ? String(answer.status) : `${answer.status} cut at ${answer.body.length} bytes`);
      if (answer.status === 200 && answer.whole) {
        expect(Math.abs(readMp3(answer.body).durationSeconds - ALL[i]!.seconds)).toBeLessThanOrEqual(0.002);
      } else if (answer.status === 200) {
        expect(answer.body.length).toBeLessThan(Number(answer.headers['content-length']));
      } else {
        expect(answer.status).toBe(503);
        expect(answer.headers['retry-after']).toBe('5');
        expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
    }
    const alive = (await descendantsOf(process.pid)).filter((pid) => children.includes(pid));
    const describe = async (pid: number) =>
      `${pid}: ${(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '?')).replaceAll('\0', ' ')}`;
    expect(await Promise.all(alive.map(describe))).toEqual([]);
    const stored = await checkStore();
    console.log(
      `graceful stop: ${ALL.length} waiting requests answered ${JSON.stringify(statuses)}; stack exited 0 in ${stopSeconds.toFixed(1)} s; ${children.length} processes stopped, none left; ${stored} whole renders in the store, no temp file`,
    );
  });

  it('started again on the same DATA_DIR, the queue drains and every segment is served, each rendered exactly once', async () => {
    const stack = await startNpmStart();
    const redisPort = await eventually(async () => {
      for (const pid of await descendantsOf(stack.pid)) {
        // Redis sets its process title to "redis-server 127.0.0.1:<port>".
        const title = /redis-server [^:\s]+:(\d+)/.exec(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''));
        if (title) return Number(title[1]);
      }
      return undefined;
    }, 'the private Redis to be found');
    const queue = new Queue(QUEUE_NAME, { connection: { url: `redis://127.0.0.1:${redisPort}` } });
    try {
      for (const segment of ALL) {
        const { response, body } = await getBytes(url + segment.url);
        expect(response.status, `${segment.url}: ${body.toString().slice(0, 300)}`).toBe(200);
        expect(Math.abs(readMp3(body).durationSeconds - segment.seconds)).toBeLessThanOrEqual(0.002);
      }
      const counts = await eventually(async () => {
        const now = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'failed');
        return Object.values(now).every((count) => count === 0) ? now : undefined;
      }, 'the queue to drain');
      expect(counts).toEqual({ active: 0, waiting: 0, delayed: 0, prioritized: 0, failed: 0 });
      expect(await rendersTotal(apiUrl)).toBe(rendersAtStart + ALL.length);
      expect(await checkStore()).toBe(ALL.length);
    } finally {
      await queue.close();
    }
    process.kill(stack.pid, 'SIGTERM');
    expect(await stack.exited).toBe(0);
    running = null;
  });
});
