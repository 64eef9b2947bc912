// Owns the bench scenarios that wrk cannot drive alone: a second API process with no memory copy (for cold
// store hits), misses one at a time beside the bare ffmpeg run, the crowd of requests waiting at once (with
// the API's memory sampled), listeners' misses during a warm, and the nginx hit ratio read from its access log.
import { createHash } from 'node:crypto';
import { readFile, stat, utimes } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { configToEnv, type Config } from '../../src/config.js';
import { logsDir } from '../../src/data-layout.js';
import { parseRenderOptions } from '../../src/segments/render-options.js';
import { freePort } from '../../src/stack/free-port.js';
import { startProcess, type LineSink } from '../../src/stack/managed-process.js';
import { API_ENTRY, type Stack } from '../../src/stack/stack.js';
import { createFrameIndexes } from '../../src/render/frame-indexes.js';
import { writeSampleCopy } from '../../src/render/sample-copy.js';
import { spanStream, writeSpanTags } from '../../src/render/span-stream.js';
import { localReaders } from '../../src/media/source-reader.js';
import { timeBareFfmpeg, timePlainFfmpegCopy, timePlainPcmDecode } from './references.js';
import { RESOLVE_TTL_MS } from '../../src/sources/catalog.js';
import { median, percentilesOf } from './samples.js';
import type { LoadResult } from './wrk.js';

/** nginx.conf's `access_log ... flush=1s`. */
const ACCESS_LOG_FLUSH_MS = 1_000;

/** Room for the bench's one hour-long source's index (8 bytes a frame). */
const FRAME_INDEX_BYTES = 64 * 1024 ** 2;

/** Another API process on the same Redis and store, with HOT_CACHE_MAX_BYTES=0: every hit reads the file. */
export async function coldApi(stack: Stack, config: Config, sink: LineSink): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const api = startProcess({
    name: 'api-cold',
    command: process.execPath,
    args: [API_ENTRY],
    env: { ...process.env, ...configToEnv(config), REDIS_URL: stack.redisUrl, API_PORT: String(port), HOT_CACHE_MAX_BYTES: '0' },
    ipc: true,
    sink,
  });
  await api.ready;
  return { url: `http://127.0.0.1:${port}`, stop: () => api.stop(4_000) };
}

/**
 * `count` cold misses through nginx, one at a time, each followed by its references (alternating, so all
 * see the same moment of a noisy machine). Segments start in the middle of the file. A copy's references:
 * the plain `ffmpeg -ss S -i SOURCE -t 30 -c copy` users compare with (`bare`), and the worker's own sample
 * cut done alone in this process (`cut`: the index built once, outside the timing). An exact render's: the
 * worker's ffmpeg command run alone (`bare`).
 */
export async function sequentialMisses(options: {
  stack: Stack;
  ffmpegPath: string;
  input: string;
  workDir: string;
  count: number;
  mode: 'copy' | 'exact';
  urlFor: (startMs: number) => string;
}): Promise<{ service: { times: number[]; errors: number }; bare: number[]; cut: number[] }> {
  const service = { times: [] as number[], errors: 0 };
  const bare: number[] = [];
  const cut: number[] = [];
  const options_ = parseRenderOptions({ mode: options.mode });
  const frameIndexes = createFrameIndexes({ maxBytes: FRAME_INDEX_BYTES });
  const { size, mtimeMs } = await stat(options.input);
  const index = await frameIndexes.indexFor({ file: options.input, size, mtimeMs });
  // node:http with keep-alive, as wrk would: fetch (undici) costs the client about 1.5 ms more per answer.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < options.count; i++) {
    // Each a new key (never asked before), a few seconds apart around the middle of the hour.
    const startMs = 1_700_000 + i * 1_370 + (options.mode === 'exact' ? 500 : 0);
    const began = performance.now();
    const { status, cache } = await getDiscarding(options.stack.url + options.urlFor(startMs), agent);
    if (status === 200 && cache === 'MISS') service.times.push(performance.now() - began);
    else service.errors += 1;
    const output = path.join(options.workDir, `bare-${options.mode}.mp3`);
    const spec = { startMs, endMs: startMs + 30_000, options: options_, sampleRate: 44_100 };
    if (options.mode === 'exact') {
      const source = { file: options.input, size, mtimeMs };
      const span = await frameIndexes.spanFor(source, spec);
      // A source with tags after its frames: the worker's tags file too (render-pipeline.ts).
      const tagsFile = span?.tags ? `${output}.tags` : undefined;
      if (span && tagsFile) await writeSpanTags(localReaders, source, span, tagsFile);
      const stdin = span ? spanStream(localReaders, source, span) : undefined;
      bare.push(await timeBareFfmpeg(options.ffmpegPath, { file: options.input, span, tagsFile }, output, spec, stdin));
      continue;
    }
    bare.push(await timePlainFfmpegCopy(options.ffmpegPath, options.input, output, startMs, 30_000));
    const cutStarted = performance.now();
    if ((await writeSampleCopy(index!, options.input, spec, output)) === null) throw new Error('the bench source allows no sample cut');
    cut.push(performance.now() - cutStarted);
  }
  agent.destroy();
  return { service, bare, cut };
}

/**
 * "What the cores can cut": the worker's sample cut of 30 s copies, back to back in this process for
 * `seconds` (one core): cores ÷ the median cut, as a LoadResult so it takes its turn in runInterleaved beside the
 * distinct misses. The index is built once, outside the timing, as a worker keeps it.
 */
export async function coresCutRate(options: { input: string; output: string; seconds: number; cores: number }): Promise<LoadResult> {
  const { size, mtimeMs } = await stat(options.input);
  const index = await createFrameIndexes({ maxBytes: FRAME_INDEX_BYTES }).indexFor({ file: options.input, size, mtimeMs });
  const renderOptions = parseRenderOptions({ mode: 'copy' });
  const times: number[] = [];
  const began = performance.now();
  while (performance.now() - began < options.seconds * 1000) {
    const startMs = 100_000 + ((times.length * 1_370) % 3_000_000);
    const cutStarted = performance.now();
    const spec = { startMs, endMs: startMs + 30_000, options: renderOptions, sampleRate: 44_100 };
    if ((await writeSampleCopy(index!, options.input, spec, options.output)) === null)
      throw new Error('the bench source allows no sample cut');
    times.push(performance.now() - cutStarted);
  }
  const seconds = (performance.now() - began) / 1000;
  // From the median cut, not the count: a cut preempted by the stack still draining the round's misses
  // would otherwise lower the ceiling.
  const rate = (1000 / median(times)) * options.cores;
  return {
    requests: times.length,
    seconds,
    requestsPerSecond: rate,
    megabytesPerSecond: 0,
    errors: 0,
    errorDetail: {},
    latency: percentilesOf(times),
  };
}

/** GETs `url`, reading and dropping the body: its status and X-Cache-Status. */
function getDiscarding(
  url: string,
  agent: http.Agent,
  headers: Record<string, string> = {},
): Promise<{ status: number; cache: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (response) => {
        response.resume();
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, cache: response.headers['x-cache-status'] as string | undefined }),
        );
      })
      .on('error', reject);
  });
}

/** Resident memory of a process in MB (VmRSS), or its peak so far (VmHWM). */
async function memoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
}

/**
 * `count` requests sent at once, straight to the API (so every one of them waits there, not on nginx's cache
 * lock), each for a segment being rendered. The API's RSS is sampled every 50 ms; the peak is reported.
 */
export async function crowdOfWaiters(options: {
  stack: Stack;
  count: number;
  urlFor: (i: number) => string;
}): Promise<{ times: number[]; errors: number; errorKinds: Record<string, number>; peakRssMb: number; baselineRssMb: number }> {
  const pid = options.stack.api.processes[0]!.pid;
  const baselineRssMb = await memoryMb(pid, 'VmRSS');
  let peakRssMb = baselineRssMb;
  const sampler = setInterval(() => {
    void memoryMb(pid, 'VmRSS').then(
      (mb) => (peakRssMb = Math.max(peakRssMb, mb)),
      () => undefined,
    );
  }, 50);
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  const times: number[] = [];
  // What went wrong, by HTTP status or socket error code: the report says which, not just how many.
  const errorKinds: Record<string, number> = {};
  const failed = (kind: string) => (errorKinds[kind] = (errorKinds[kind] ?? 0) + 1);
  const one = (url: string) =>
    new Promise<void>((resolve) => {
      const began = performance.now();
      const request = http.get(url, { agent }, (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode === 200) times.push(performance.now() - began);
          else failed(`status ${response.statusCode}`);
          resolve();
        });
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        failed(error.code ?? error.message);
        resolve();
      });
    });
  try {
    await Promise.all(Array.from({ length: options.count }, (_, i) => one(options.stack.apiUrl + options.urlFor(i))));
  } finally {
    clearInterval(sampler);
    agent.destroy();
  }
  peakRssMb = Math.max(peakRssMb, await memoryMb(pid, 'VmRSS'));
  const errors = Object.values(errorKinds).reduce((sum, count) => sum + count, 0);
  return { times, errors, errorKinds, peakRssMb, baselineRssMb };
}

/** Runs `load` and reads what nginx logged meanwhile: the share of segment answers that were cache HITs. */
export async function hitRatioDuring<T>(
  _stack: Stack,
  config: Config,
  load: () => Promise<T>,
): Promise<{ load: T; hits: Record<string, number> }> {
  const log = path.join(logsDir(config.dataDir), 'nginx', 'access.log');
  const before = (await stat(log)).size;
  const result = await load();
  // nginx writes its access log in batches, at most ACCESS_LOG_FLUSH_MS late (nginx.conf): wait out the last.
  await new Promise((resolve) => setTimeout(resolve, ACCESS_LOG_FLUSH_MS + 500));
  const lines = (await readFile(log))
    .subarray(before)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.includes('"GET /segments/'));
  const count = (status: string) => lines.filter((line) => line.includes(` cache=${status} `)).length;
  const hits = {
    nginxAnswers: lines.length,
    nginxHits: count('HIT'),
    nginxMisses: count('MISS'),
    hitRatio: lines.length ? count('HIT') / lines.length : 0,
  };
  return { load: result, hits };
}

/**
 * Cold copy misses one at a time, as a listener asks, while a warm keeps the workers busy with exact
 * renders: `warmConnections` loops through nginx, each asking for distinct exact segments with Priority:
 * u=7 (as `segments warm` does) until the misses are done. Times are from request to last byte.
 */
export async function missesDuringWarm(options: {
  stack: Stack;
  count: number;
  warmConnections: number;
  warmUrlFor: (i: number) => string;
  missUrlFor: (i: number) => string;
  /** The misses' own request headers: none for a listener; Priority: u=7 puts them in line with the warm. */
  missHeaders?: Record<string, string>;
}): Promise<{ times: number[]; errors: number; warmAnswered: number; warmWaitingAtFirstMiss: number }> {
  let stop = false;
  let next = 0;
  let warmAnswered = 0;
  const warmAgent = new http.Agent({ keepAlive: true, maxSockets: options.warmConnections });
  const warm = Array.from({ length: options.warmConnections }, async () => {
    while (!stop) {
      const url = options.stack.url + options.warmUrlFor(next++);
      await getDiscarding(url, warmAgent, { priority: 'u=7' }).then(
        () => (warmAnswered += 1),
        () => undefined,
      );
    }
  });
  // Let the warm get under way first: all its asks waiting (in the queue, or in the API for a place in the
  // background lane, which keeps one worker for listeners).
  const warmWaitingAtFirstMiss = await waitForWaiting(options.stack, options.warmConnections);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  let errors = 0;
  for (let i = 0; i < options.count; i++) {
    const began = performance.now();
    const { status, cache } = await getDiscarding(options.stack.url + options.missUrlFor(i), agent, options.missHeaders);
    if (status === 200 && cache === 'MISS') times.push(performance.now() - began);
    else errors += 1;
  }
  stop = true;
  await Promise.all(warm);
  agent.destroy();
  warmAgent.destroy();
  return { times, errors, warmAnswered, warmWaitingAtFirstMiss };
}

/** Waits (at most 10 s) until the API's segment_waiting_requests reaches `atLeast`; returns the last reading. */
async function waitForWaiting(stack: Stack, atLeast: number): Promise<number> {
  let waiting = 0;
  for (let tries = 0; tries < 200 && waiting < atLeast; tries++) {
    const text = await fetch(`${stack.apiUrl}/metrics`).then((response) => response.text());
    waiting = Number(/^segment_waiting_requests (\d+)/m.exec(text)?.[1] ?? 0);
    if (waiting < atLeast) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return waiting;
}

/**
 * `count` clients ask at once (`base`: nginx, or the API itself) for distinct exact segments and hang up after `hangUpMs`;
 * once the queue has drained, how many renders the workers ran for them (segment_renders_total{mode="exact"}).
 */
export async function hangUps(options: {
  stack: Stack;
  count: number;
  hangUpMs: number;
  base: string;
  urlFor: (i: number) => string;
}): Promise<{ renders: number; drainedMs: number }> {
  const exactRenders = async () => {
    const text = await fetch(`${options.stack.apiUrl}/metrics`).then((response) => response.text());
    return Number(/^segment_renders_total\{mode="exact"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const before = await exactRenders();
  const began = performance.now();
  const requests = Array.from({ length: options.count }, (_, i) => {
    const request = http.get(options.base + options.urlFor(i), { agent: false });
    request.on('error', () => undefined);
    request.on('response', (response) => response.resume());
    return request;
  });
  await new Promise((resolve) => setTimeout(resolve, options.hangUpMs));
  for (const request of requests) request.destroy();
  // Drained: nothing queued, nobody waiting and no render completed, for two seconds in a row (the renders
  // already running when the clients left take well under that).
  let quiet = 0;
  let last = -1;
  for (let tries = 0; tries < 1_200 && quiet < 20; tries++) {
    const text = await fetch(`${options.stack.apiUrl}/metrics`).then((response) => response.text());
    const depth = Number(/^segment_queue_depth (\d+)/m.exec(text)?.[1] ?? 0);
    const waiting = Number(/^segment_waiting_requests (\d+)/m.exec(text)?.[1] ?? 0);
    const renders = Number(/^segment_renders_total\{mode="exact"\} (\d+)/m.exec(text)?.[1] ?? 0);
    quiet = depth === 0 && waiting === 0 && renders === last ? quiet + 1 : 0;
    last = renders;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { renders: (await exactRenders()) - before, drainedMs: performance.now() - began };
}

/**
 * `clients` ask at once (through nginx) for one new segment: for each, the time to its first body byte and
 * to its last; whether all got the same bytes; how many exact renders ran for them.
 */
export async function streamedRender(options: {
  stack: Stack;
  url: string;
  clients: number;
}): Promise<{ firstByteMs: number[]; lastByteMs: number[]; errors: number; identical: boolean; renders: number }> {
  const exactRenders = async () => {
    const text = await fetch(`${options.stack.apiUrl}/metrics`).then((response) => response.text());
    return Number(/^segment_renders_total\{mode="exact"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const before = await exactRenders();
  const began = performance.now();
  const answers = await Promise.all(
    Array.from(
      { length: options.clients },
      () =>
        new Promise<{ status: number; firstByteMs: number; lastByteMs: number; hash: string }>((resolve, reject) => {
          http
            .get(options.url, { agent: false }, (response) => {
              const hash = createHash('sha256');
              let firstByteMs = Number.NaN;
              response.on('data', (chunk: Buffer) => {
                if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - began;
                hash.update(chunk);
              });
              response.on('end', () =>
                resolve({ status: response.statusCode ?? 0, firstByteMs, lastByteMs: performance.now() - began, hash: hash.digest('hex') }),
              );
              response.on('error', reject);
            })
            .on('error', reject);
        }),
    ),
  );
  const good = answers.filter((answer) => answer.status === 200);
  return {
    firstByteMs: good.map((answer) => answer.firstByteMs),
    lastByteMs: good.map((answer) => answer.lastByteMs),
    errors: answers.length - good.length,
    identical: new Set(good.map((answer) => answer.hash)).size === 1,
    renders: (await exactRenders()) - before,
  };
}

/**
 * A source's peaks computed anew, `rounds` times, each beside a plain ffmpeg decode of the same file to PCM
 * (alternating, so both see the same moment of the machine). Each round gives the source a new mtime (a new
 * version: new peaks) and has the API describe it first (its frame index walk stays outside the timing);
 * then times its peaks through nginx (a MISS: the job queued, decoded, binned, recorded, read, answered),
 * sampling every worker's RSS every 50 ms: the largest growth of one worker over its own RSS before is
 * what computing peaks holds.
 */
export async function peaksBesideDecode(options: {
  stack: Stack;
  ffmpegPath: string;
  input: string;
  sourcePath: string;
  /** Another URL each round: nginx keeps the last round's answer for PEAKS_MAX_AGE_SECONDS. */
  peaksPathFor: (round: number) => string;
  rounds: number;
}): Promise<{
  service: { times: number[]; errors: number; errorKinds: Record<string, number> };
  decode: number[];
  workerGrowthMb: number;
  workerPeakMb: number;
}> {
  const service = { times: [] as number[], errors: 0, errorKinds: {} as Record<string, number> };
  const decode: number[] = [];
  let workerGrowthMb = 0;
  let workerPeakMb = 0;
  for (let round = 0; round < options.rounds; round += 1) {
    const version = new Date(Date.now() - (round + 1) * 60_000);
    await utimes(options.input, version, version);
    await new Promise((resolve) => setTimeout(resolve, RESOLVE_TTL_MS + 100));
    await fetch(`${options.stack.apiUrl}${options.sourcePath}`).then((response) => response.arrayBuffer());
    if (round % 2 === 1) decode.push(await timePlainPcmDecode(options.ffmpegPath, options.input));
    const pids = options.stack.workers.processes.map((worker) => worker.pid);
    const baseline = await Promise.all(pids.map((pid) => memoryMb(pid, 'VmRSS')));
    const peak = [...baseline];
    const sampler = setInterval(() => {
      pids.forEach(
        (pid, i) =>
          void memoryMb(pid, 'VmRSS').then(
            (mb) => (peak[i] = Math.max(peak[i]!, mb)),
            () => undefined,
          ),
      );
    }, 50);
    const began = performance.now();
    const response = await fetch(options.stack.url + options.peaksPathFor(round));
    await response.arrayBuffer();
    const ms = performance.now() - began;
    clearInterval(sampler);
    const cache = response.headers.get('x-cache-status');
    if (response.status === 200 && cache === 'MISS') service.times.push(ms);
    else {
      // Named by what came back, so a reader of the results sees why a round did not count.
      const kind = `${response.status} ${cache ?? 'no cache status'}`;
      service.errors += 1;
      service.errorKinds[kind] = (service.errorKinds[kind] ?? 0) + 1;
    }
    peak.forEach((mb, i) => {
      workerGrowthMb = Math.max(workerGrowthMb, mb - baseline[i]!);
      workerPeakMb = Math.max(workerPeakMb, mb);
    });
    if (round % 2 === 0) decode.push(await timePlainPcmDecode(options.ffmpegPath, options.input));
  }
  return { service, decode, workerGrowthMb, workerPeakMb };
}
