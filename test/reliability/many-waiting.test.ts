// Many waiting requests: 5,000 concurrent requests for distinct new segments, all waiting on renders at once
// (no worker renders until they all wait), are held and then all answered correctly, with the API's memory
// within a stated bound and no leak warning in any process.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configToEnv } from '../../src/config.js';
import { startProcess, type ManagedProcess } from '../../src/stack/managed-process.js';
import { WORKER_ENTRY } from '../../src/stack/stack.js';
import { readMp3, type Mp3Summary } from '../helpers/mp3-frames.js';
import { checkSegment } from '../helpers/segment-oracle.js';
import { eventually, getBytes, rendersTotal, startTestStack, waitingRequests, type TestStack } from '../helpers/test-stack.js';

const REQUESTS = 5_000;
/** The bound this test holds the API to: RSS growth while all of them wait. */
const RSS_GROWTH_BOUND_MB = 200;
const FRAME_SECONDS = 1152 / 44100;

let t: TestStack;
let tones: Mp3Summary;
const lateWorkers: ManagedProcess[] = [];
const warningsHere: string[] = [];
const onWarning = (warning: Error) => warningsHere.push(`${warning.name}: ${warning.message}`);

beforeAll(async () => {
  t = await startTestStack({ WORKERS: '2', WAIT_TIMEOUT_MS: '450000', MAX_WAITING_REQUESTS: '10000', MAX_QUEUE_DEPTH: '10000' });
  tones = readMp3(await readFile(path.join(t.config.mediaRoot, 'demo', 'tones.mp3')), { strict: false });
  process.on('warning', onWarning);
});
afterAll(async () => {
  process.off('warning', onWarning);
  await Promise.all(lateWorkers.map((worker) => worker.stop(5_000)));
  await t?.stop();
});

/** Resident and peak resident memory of a process, in MB, from /proc. */
async function memoryMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Seconds from whole milliseconds, spelled canonically (no float noise, no trailing zeros). */
const seconds = (ms: number) => (ms / 1000).toFixed(3).replace(/\.?0+$/, '');

/** 5,000 distinct one-second copies of demo/tones, 17 ms apart. */
const asks = Array.from({ length: REQUESTS }, (_, i) => {
  const startMs = i * 17;
  return { start: startMs / 1000, end: startMs / 1000 + 1, url: `/segments/demo/tones/${seconds(startMs)}-${seconds(startMs + 1000)}.mp3` };
});

describe(`${REQUESTS} requests waiting on renders at once`, () => {
  it('are all held while no worker renders, within the memory bound, then all answered with correct audio', async () => {
    const api = t.stack.api.processes[0]!;
    // Warm the API (routes, catalog, one render) so the baseline is the idle process, not its first request.
    expect((await getBytes(`${t.apiUrl}/segments/demo/chirp/0-1.mp3`)).response.status).toBe(200);
    const before = await memoryMb(api.pid);
    const rendersBefore = await rendersTotal(t.apiUrl);
    // The workers are busy elsewhere: here, gone until every request waits.
    await t.stack.workers.stop(5_000);

    const answers = Promise.all(asks.map((ask) => getBytes(t.apiUrl + ask.url)));
    const sent = performance.now();
    await eventually(
      async () => ((await waitingRequests(t.apiUrl)) === REQUESTS ? true : undefined),
      `all ${REQUESTS} requests to wait`,
      120_000,
    );
    const allWaitingAfter = (performance.now() - sent) / 1000;
    const atPeak = await memoryMb(api.pid);

    const env = { ...process.env, ...configToEnv(t.config), REDIS_URL: t.stack.redisUrl };
    for (const n of [1, 2])
      lateWorkers.push(
        startProcess({
          name: `late-worker-${n}`,
          command: process.execPath,
          args: [WORKER_ENTRY],
          env,
          ipc: true,
          sink: (name, line) => t.logs.push(`${name}: ${line}`),
        }),
      );
    const drainStarted = performance.now();
    const results = await answers;
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const after = await memoryMb(api.pid);

    const wrong: string[] = [];
    results.forEach(({ response, body }, i) => {
      const ask = asks[i]!;
      if (response.status !== 200 || response.headers.get('content-type') !== 'audio/mpeg') {
        wrong.push(`${ask.url}: ${response.status}`);
        return;
      }
      const seconds = readMp3(body).durationSeconds;
      if (Math.abs(seconds - 1) > 2 * FRAME_SECONDS) wrong.push(`${ask.url}: ${seconds.toFixed(3)} s`);
    });
    expect(wrong).toEqual([]);
    // Every 250th answer through every oracle (contiguous source frames, start and end within a frame).
    for (let i = 0; i < REQUESTS; i += 250)
      await checkSegment(tones, results[i]!.body, { start: asks[i]!.start, end: asks[i]!.end, mode: 'copy' }, t.config.dataDir);
    expect(await rendersTotal(t.apiUrl)).toBe(rendersBefore + REQUESTS);
    expect(await waitingRequests(t.apiUrl)).toBe(0);

    const growth = atPeak.rss - before.rss;
    expect(growth).toBeLessThanOrEqual(RSS_GROWTH_BOUND_MB);
    // Node prints its warnings as "(node:<pid>) <Name>Warning: ..." on a child's stderr.
    const warnings = [...warningsHere, ...t.logs.filter((line) => /\(node:\d+\)|MaxListenersExceeded|possible .*leak/i.test(line))];
    expect(warnings).toEqual([]);
    console.log(
      `many waiting: ${REQUESTS} distinct requests all waiting at once, all answered 200 with correct audio (${REQUESTS} renders, drained by 2 workers in ${drainSeconds.toFixed(1)} s); ` +
        `all waiting ${allWaitingAfter.toFixed(1)} s after sending; API RSS ${before.rss.toFixed(0)} MB before, ${atPeak.rss.toFixed(0)} MB with all waiting (+${growth.toFixed(0)} MB, bound ${RSS_GROWTH_BOUND_MB} MB), peak ${after.peak.toFixed(0)} MB, ${after.rss.toFixed(0)} MB after; no warnings`,
    );
  }, 480_000);
});
