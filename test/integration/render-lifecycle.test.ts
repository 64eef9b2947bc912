// What happens around a render: a worker killed mid-render, a wait past its limit, a client that goes
// away, a failed key asked again, Redis going away. One worker, short lock and wait limits.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeDir } from '../../src/data-layout.js';
import { QUEUE_NAME, type RenderJob } from '../../src/queue/render-job.js';
import { startProcess } from '../../src/stack/managed-process.js';
import { WORKER_ENTRY } from '../../src/stack/stack.js';
import { configToEnv } from '../../src/config.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import {
  eventually,
  getBytes,
  processesInGroup,
  queueEventsFromNow,
  rendersTotal,
  startExtraApi,
  startTestStack,
  type TestStack,
  waitingRequests,
} from '../helpers/test-stack.js';

let t: TestStack;
const tempDir = () => path.join(storeDir(t.config.dataDir), '.tmp');
const tempFiles = async () => (await readdir(tempDir()).catch(() => [] as string[])).filter((name) => name.endsWith('.mp3'));

beforeAll(async () => {
  t = await startTestStack({ WORKERS: '1', WAIT_TIMEOUT_MS: '20000', JOB_LOCK_MS: '2000' });
});
afterAll(async () => {
  await t?.stop();
});

describe('a worker killed in the middle of a render', () => {
  it('leaves no temp file and no orphan ffmpeg; the job is rendered again and the waiting request gets correct audio', async () => {
    const before = await rendersTotal(t.apiUrl);
    const answer = getBytes(`${t.url}/segments/demo/tones/0-90.mp3?mode=exact&bitrate=320`);
    // The temp file's name carries the pid of the worker writing it.
    const temp = await eventually(async () => (await tempFiles())[0], 'a render to start');
    const workerPid = Number(temp.split('.')[1]);
    expect(t.stack.workers.processes.map((worker) => worker.pid)).toContain(workerPid);
    process.kill(workerPid, 'SIGKILL'); // the worker only: its ffmpeg child must not live on
    await eventually(async () => ((await processesInGroup(workerPid)).length === 0 ? true : undefined), 'the dead worker group to be gone');
    await eventually(async () => (t.stack.workers.restarts === 1 ? true : undefined), 'the worker to be restarted');

    const { response, body } = await answer;
    expect(response.status).toBe(200);
    // Gapless length from the output's own LAME tag: 90 s of the 90 s source.
    expect(Math.abs(readMp3(body).durationSeconds - 90)).toBeLessThanOrEqual(0.001);
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
    expect(await tempFiles()).toEqual([]);
  });
});

describe('an API process that dies', () => {
  it('is restarted by the stack, and nginx reaches it again', async () => {
    const [api] = t.stack.api.processes;
    process.kill(api!.pid, 'SIGKILL');
    await eventually(async () => (t.stack.api.restarts === 1 ? true : undefined), 'the API to be restarted');
    await eventually(
      async () =>
        (await fetch(`${t.url}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) === 200
          ? true
          : undefined,
      'the API to answer',
    );
    expect(t.stack.api.processes[0]!.pid).not.toBe(api!.pid);
  });
});

describe('a failed key', () => {
  it('is rendered again when asked again (failed jobs are removed, so add() is not ignored)', async () => {
    const queue = new Queue(QUEUE_NAME, { connection: { url: t.stack.redisUrl } });
    const events = await queueEventsFromNow(t);
    const jobId = 'f'.repeat(32);
    const failures: string[] = [];
    events.on('failed', ({ jobId: id, failedReason }) => {
      if (id === jobId) failures.push(failedReason);
    });
    const data: RenderJob = {
      key: jobId,
      source: { path: ['demo', 'no-such-file'], size: 1, mtimeMs: 1 },
      spec: { startMs: 0, endMs: 1000, options: { mode: 'copy' }, sampleRate: 44100 },
      requestId: 'test',
    };
    await queue.add('render', data, { jobId, removeOnFail: true, removeOnComplete: true });
    await eventually(async () => (failures.length === 1 ? true : undefined), 'the first failure');
    await queue.add('render', data, { jobId, removeOnFail: true, removeOnComplete: true });
    await eventually(async () => (failures.length === 2 ? true : undefined), 'the second failure');
    // The job's reason is the public detail as words; how the render failed travels in the failure memory.
    expect(failures[1]).toBe("There is no source 'demo/no-such-file': no file demo/no-such-file.mp3 below the media root.");
    await events.close();
    await queue.close();
  });
});

describe('with no worker to render', () => {
  beforeAll(async () => {
    await t.stack.workers.stop(5_000);
  });

  it('/readyz answers 503 saying no worker is connected', async () => {
    const response = await fetch(`${t.url}/readyz`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect((await response.json()).detail).toMatch(/no worker/);
  });

  it('a client that goes away stops waiting', async () => {
    const gone = new AbortController();
    const pending = fetch(`${t.apiUrl}/segments/demo/chirp/1-2.mp3`, { signal: gone.signal }).catch(() => 'aborted');
    await eventually(async () => ((await waitingRequests(t.apiUrl)) === 1 ? true : undefined), 'the request to wait');
    gone.abort();
    expect(await pending).toBe('aborted');
    await eventually(async () => ((await waitingRequests(t.apiUrl)) === 0 ? true : undefined), 'the wait to end');
  });

  it('a request that waits past WAIT_TIMEOUT_MS gets 503 with Retry-After, and its render still fills the store', async () => {
    const short = await startExtraApi(t, { WAIT_TIMEOUT_MS: '1000' });
    const { response, body } = await getBytes(`${short.url}/segments/demo/chirp/2-4.mp3`).finally(() => short.stop());
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(body.toString()).detail).toMatch(/still rendering/);

    // A worker comes back: the queued job completes and the retry is a store hit.
    const before = await rendersTotal(t.apiUrl);
    const worker = startProcess({
      name: 'late-worker',
      command: process.execPath,
      args: [WORKER_ENTRY],
      env: { ...process.env, ...configToEnv(t.config), REDIS_URL: t.stack.redisUrl },
      ipc: true,
      sink: () => undefined,
    });
    try {
      await worker.ready;
      await eventually(async () => ((await rendersTotal(t.apiUrl)) >= before + 1 ? true : undefined), 'the queued renders to finish');
      const retry = await getBytes(`${t.apiUrl}/segments/demo/chirp/2-4.mp3`);
      expect(retry.response.status).toBe(200);
      expect(Math.abs(readMp3(retry.body).durationSeconds - 2)).toBeLessThanOrEqual(2 * (1152 / 48000));
    } finally {
      await worker.stop(5_000);
    }
  });
});

describe('Redis going away', () => {
  it('misses get 503 with Retry-After at once, stored renders are still served, /readyz says Redis is down', async () => {
    const stored = await getBytes(`${t.apiUrl}/segments/demo/chirp/2-4.mp3`);
    expect(stored.response.status).toBe(200);
    await t.stack.redis?.stop(5_000);
    const miss = await getBytes(`${t.apiUrl}/segments/demo/chirp/5-9.mp3`);
    expect(miss.response.status).toBe(503);
    expect(miss.response.headers.get('retry-after')).toBe('5');
    expect(JSON.parse(miss.body.toString()).detail).toMatch(/Redis/);
    const hit = await getBytes(`${t.apiUrl}/segments/demo/chirp/2-4.mp3`);
    expect(hit.response.status).toBe(200);
    expect(hit.body.equals(stored.body)).toBe(true);
    const ready = await fetch(`${t.apiUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect((await ready.json()).detail).toMatch(/Redis does not answer/);
  });
});
