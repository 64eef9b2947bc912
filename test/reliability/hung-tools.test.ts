// A hung ffmpeg or ffprobe: killed at its time limit, the job fails once and cleanly (no retry, no temp
// file, no process left), the waiting requests get 503 + Retry-After, and the next ask works again.
// The stack runs wrappers around the real binaries: while a flag file exists, ffmpeg reads the source named
// stall.mp3 at its native rate (-re: a real ffmpeg, alive but far too slow), and ffprobe stops itself
// (SIGSTOP) on probe-stall.mp3. Without the flag both are the real tools, untouched.
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import ffprobeInstaller from '@ffprobe-installer/ffprobe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeDir } from '../../src/data-layout.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import {
  eventually,
  getBytes,
  processesInGroup,
  queueEventsFromNow,
  rendersTotal,
  startTestStack,
  type TestStack,
} from '../helpers/test-stack.js';

// The limits apply to the healthy tools in this file too: a busy machine must not push a real probe or
// render past them, while a stalled tool never ends on its own.
const RENDER_TIMEOUT_MS = 4_000;
const PROBE_TIMEOUT_MS = 3_000;
let t: TestStack;
let flags: string;
const ffmpegFlag = () => path.join(flags, 'ffmpeg-stalls');
const ffprobeFlag = () => path.join(flags, 'ffprobe-stalls');

async function writeWrapper(file: string, body: string): Promise<void> {
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
}

beforeAll(async () => {
  // The wrappers must exist before the stack starts, so they have a temp folder of their own.
  flags = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-hung-'));
  const ffmpeg = path.join(flags, 'ffmpeg');
  const ffprobe = path.join(flags, 'ffprobe');
  // Stalling: every input read at its playing speed (-re before each -i; a copy reads the source twice, for
  // its tags and for its byte range).
  const stalled = `for arg do shift; [ "$arg" = -i ] && set -- "$@" -re; set -- "$@" "$arg"; done; exec '${ffmpegInstaller.path}' "$@"`;
  await writeWrapper(
    ffmpeg,
    `case "$*" in *"/stall.mp3"*) [ -e '${ffmpegFlag()}' ] && { ${stalled}; };; esac\nexec '${ffmpegInstaller.path}' "$@"`,
  );
  await writeWrapper(
    ffprobe,
    `case "$*" in *"/probe-stall.mp3"*) [ -e '${ffprobeFlag()}' ] && kill -STOP $$;; esac\nexec '${ffprobeInstaller.path}' "$@"`,
  );
  t = await startTestStack({
    WORKERS: '1',
    FFMPEG_PATH: ffmpeg,
    FFPROBE_PATH: ffprobe,
    RENDER_TIMEOUT_MS: String(RENDER_TIMEOUT_MS),
    PROBE_TIMEOUT_MS: String(PROBE_TIMEOUT_MS),
  });
  const tones = await readFile(path.join(t.config.mediaRoot, 'demo', 'tones.mp3'));
  // Bytes after the last frame that are no tag: the frame index refuses the file, so it is probed by
  // ffprobe and its copies are cut by ffmpeg (an indexed source needs neither).
  for (const name of ['stall', 'probe-stall'])
    await writeFile(path.join(t.config.mediaRoot, 'demo', `${name}.mp3`), Buffer.concat([tones, Buffer.alloc(64, 0x5a)]));
});
afterAll(async () => {
  await t?.stop();
  if (flags) await rm(flags, { recursive: true, force: true });
});

const tempFiles = async () => readdir(path.join(storeDir(t.config.dataDir), '.tmp')).catch(() => [] as string[]);
const processAlive = async (pid: number) =>
  readdir(`/proc/${pid}`).then(
    () => true,
    () => false,
  );

const timeLimitKills = () => t.logs.filter((line) => line.includes('ffmpeg killed at its time limit')).length;
// The worker logs the kill through its own pipe, which may deliver the line a moment after the answer.
const timeLimitKillsReach = (count: number) =>
  eventually(async () => (timeLimitKills() >= count ? timeLimitKills() : undefined), `${count} time-limit kills in the worker's log`);

describe('a hung ffmpeg', () => {
  beforeAll(() => writeFile(ffmpegFlag(), ''));
  afterAll(() => rm(ffmpegFlag(), { force: true }));

  it('is killed at RENDER_TIMEOUT_MS; the job fails once, its waiting requests get 503 + Retry-After; nothing is left behind', async () => {
    const events = await queueEventsFromNow(t);
    const activations: string[] = [];
    events.on('active', ({ jobId }) => activations.push(jobId));
    try {
      const rendersBefore = await rendersTotal(t.apiUrl);
      // Straight at the API: the three requests wait on one job.
      const answers = Promise.all([0, 1, 2].map(() => getBytes(`${t.apiUrl}/segments/demo/stall/0-60.mp3`)));
      const worker = t.stack.workers.processes[0]!;
      // The worker's process group holds the worker and, while it renders, its ffmpeg.
      const ffmpegPid = await eventually(
        async () => (await processesInGroup(worker.pid)).find((pid) => pid !== worker.pid),
        'ffmpeg to be running',
      );
      // ffmpeg writes as it goes: a partial file that must never reach the store.
      await eventually(async () => ((await tempFiles()).length > 0 ? true : undefined), 'the partial render to appear');

      for (const { response, body } of await answers) {
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect(JSON.parse(body.toString()).detail).toBe('Rendering took longer than allowed; retry later.');
      }
      expect(await processAlive(ffmpegPid)).toBe(false);
      expect(await processesInGroup(worker.pid)).toEqual([worker.pid]);
      expect(await tempFiles()).toEqual([]);
      expect(activations, 'one attempt, no retry').toHaveLength(1);
      expect(await timeLimitKillsReach(1)).toBe(1);
      expect(await rendersTotal(t.apiUrl)).toBe(rendersBefore);
      // The worker itself lived on: no restart, and it renders the next job.
      expect(t.stack.workers.restarts).toBe(0);
      const next = await getBytes(`${t.url}/segments/demo/chirp/3-5.mp3`);
      expect(next.response.status).toBe(200);
    } finally {
      await events.close();
    }
  });

  it('through nginx, requests queued on its cache lock get the same 503 without another ffmpeg run', async () => {
    // nginx lets its lock's waiters go upstream one by one after an uncacheable answer; the workers
    // remember the failure (5 s, the Retry-After) instead of starting the same doomed render again.
    const killsBefore = timeLimitKills();
    const answers = await Promise.all([0, 1, 2].map(() => getBytes(`${t.url}/segments/demo/stall/0-50.mp3`)));
    for (const { response, body } of answers) {
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.headers.get('x-cache-status')).toBe('MISS');
      expect(JSON.parse(body.toString()).detail).toBe('Rendering took longer than allowed; retry later.');
    }
    expect(await timeLimitKillsReach(killsBefore + 1)).toBe(killsBefore + 1);
    expect(await tempFiles()).toEqual([]);
  });

  it('once ffmpeg no longer hangs, the same segment asked again after its Retry-After is rendered', async () => {
    await rm(ffmpegFlag(), { force: true });
    // Polls the segment itself: 503 while the failure is remembered (Retry-After), then the render.
    const body = await eventually(
      async () => {
        const answer = await getBytes(`${t.url}/segments/demo/stall/0-60.mp3`);
        if (answer.response.status === 503) return undefined;
        expect(answer.response.status).toBe(200);
        return answer.body;
      },
      'the remembered failure to expire',
      15_000,
    );
    expect(Math.abs(readMp3(body).durationSeconds - 60)).toBeLessThanOrEqual(2 * (1152 / 44100));
  });
});

describe('a hung ffprobe', () => {
  it('is killed at PROBE_TIMEOUT_MS; the request gets 503 + Retry-After, the API lives on with no child left', async () => {
    await writeFile(ffprobeFlag(), '');
    try {
      const { response, body } = await getBytes(`${t.url}/segments/demo/probe-stall/1-2.mp3`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(JSON.parse(body.toString()).detail).toBe("Reading 'demo/probe-stall' took too long; retry shortly.");
      const api = t.stack.api.processes[0]!;
      await eventually(async () => ((await processesInGroup(api.pid)).length === 1 ? true : undefined), 'the stopped ffprobe to be gone');
      expect(t.stack.api.restarts).toBe(0);
    } finally {
      await rm(ffprobeFlag(), { force: true });
    }
  });

  it('a probe that timed out is not remembered: asked again, the source is served', async () => {
    const { response, body } = await getBytes(`${t.url}/segments/demo/probe-stall/1-2.mp3`);
    expect(response.status).toBe(200);
    expect(Math.abs(readMp3(body).durationSeconds - 1)).toBeLessThanOrEqual(2 * (1152 / 44100));
  });
});
