// `npm run bench [-- --quick]`: the real stack (as `npm start` starts it, with its own DATA_DIR, media and
// ports) measured beside its reference points in the same run: nginx serving the render as a static file,
// the worker's ffmpeg command alone, and the naive one-ffmpeg-per-request server. Prints the table, writes
// test/bench/results/bench-{full,quick,hits}.{json,svg,md}, and stops every process it started, by pid.
import { appendFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PROJECT_ROOT, parseConfig } from '../../src/config.js';
import { createMediaTools } from '../../src/media/ffmpeg.js';
import { readFrameIndex } from '../../src/media/frame-index.js';
import { parseRenderOptions } from '../../src/segments/render-options.js';
import { canonicalSegmentUrl } from '../../src/segments/segment-url.js';
import { freePort } from '../../src/stack/free-port.js';
import { ensurePrograms } from '../../src/stack/system-tools.js';
import { startStack, type Stack } from '../../src/stack/stack.js';
import {
  coldApi,
  coresCutRate,
  crowdOfWaiters,
  hangUps,
  hitRatioDuring,
  missesDuringWarm,
  peaksBesideDecode,
  sequentialMisses,
  streamedRender,
} from './scenarios.js';
import { addIntervals, cpuExtra, cpuPerAnswer, sampleCpu, type CpuSample } from './cpu-use.js';
import { startNaiveServer, startStaticNginx, type ReferenceServer } from './references.js';
import { writeReport, type BenchReport, type ScenarioResult } from './report.js';
import { median, percentilesOf } from './samples.js';
import { distinctSegmentsScript, runInterleaved, runWrk, zipfScript, type LoadResult } from './wrk.js';

const quick = process.argv.includes('--quick');
/** --hits: only the interleaved hit rows (nginx static, HIT, API hot and cold), for tuning nginx or the API. */
const hitsOnly = process.argv.includes('--hits');
/** --peaks: only the peaks rows (a new hour's peaks beside a plain decode), for work on the peaks job. */
const peaksOnly = process.argv.includes('--peaks');
/**
 * Durations and counts of the two versions: --quick is a smoke run (about 3 min), full is the record.
 * Every compared pair runs in interleaved rounds (distinctRounds, mixedRounds): each ratio is read per round.
 */
const PLAN = quick
  ? {
      hitRounds: 3,
      hitSeconds: 3,
      sequential: 5,
      distinctRounds: 3,
      distinctSeconds: 3,
      waiting: 2_000,
      mixedSeconds: 10,
      mixedRounds: 2,
      peaksRounds: 3,
    }
  : {
      peaksRounds: 5,
      hitRounds: 8,
      hitSeconds: 3,
      sequential: 21,
      distinctRounds: 6,
      distinctSeconds: 5,
      waiting: 10_000,
      mixedSeconds: 60,
      mixedRounds: 4,
    };
const CORES = os.availableParallelism();
const WRK_THREADS = 2;
const HOUR = ['bench', 'hour'];
const VBR = ['bench', 'vbr'];

const segmentUrl = (source: string[], startMs: number, endMs: number, mode: 'copy' | 'exact' = 'copy') =>
  canonicalSegmentUrl({ source, startMs, endMs, options: parseRenderOptions({ mode }), download: false });

const root = await mkdtemp(path.join(os.tmpdir(), 'mp3-segments-bench-'));
await chmod(root, 0o755);
const logFile = path.join(root, 'processes.log');
const sink = (name: string, line: string) => appendFileSync(logFile, `${name}: ${line}\n`);
const say = (line: string) => process.stdout.write(`${line}\n`);
const started: { stop(): Promise<unknown> }[] = [];

async function makeSources(mediaRoot: string): Promise<void> {
  const script = path.join(PROJECT_ROOT, 'fixtures', 'make-long-source.sh');
  const run = promisify(execFile);
  await mkdir(path.join(mediaRoot, 'bench'), { recursive: true });
  // An hour (61 min) of 128 kbps CBR and 20 min of LAME -V 4 VBR: a few seconds each (one minute encoded,
  // its frames repeated).
  await Promise.all([
    run('bash', [script, path.join(mediaRoot, 'bench', 'hour.mp3'), 'cbr', '61']),
    run('bash', [script, path.join(mediaRoot, 'bench', 'vbr.mp3'), 'vbr', '20']),
  ]);
}

/**
 * The frame index of a never-seen long source: a walk of the whole file, as its first request costs (the
 * hour-long bench source in --quick, a 10-hour one made for it in the full run, removed after).
 */
async function timeIndexBuild(mediaRoot: string): Promise<ScenarioResult> {
  const minutes = quick ? 61 : 600;
  const file = quick ? path.join(mediaRoot, 'bench', 'hour.mp3') : path.join(root, 'ten-hours.mp3');
  if (!quick) await promisify(execFile)('bash', [path.join(PROJECT_ROOT, 'fixtures', 'make-long-source.sh'), file, 'cbr', String(minutes)]);
  say(`frame index of a never-seen ${minutes}-minute source`);
  const started = performance.now();
  const index = await readFrameIndex(file);
  const ms = performance.now() - started;
  const megabytes = Math.round((await stat(file)).size / 1e6);
  if (!quick) await rm(file, { force: true });
  return {
    id: 'index-build',
    name: `frame index of a never-seen ${minutes}-minute source (one walk of the file)`,
    reference: false,
    requests: 1,
    errors: index ? 0 : 1,
    latency: percentilesOf([ms]),
    extra: { minutes, megabytes, frames: index?.frames ?? 0 },
  };
}

/** 2,000 distinct segments (10.5-59.5 s, 3 in 4 of the hour file, 1 in 4 of the VBR file), ranked. */
function mixedKeys(): string[] {
  return Array.from({ length: 2_000 }, (_, i) => {
    const lengthMs = 10_500 + ((i * 37) % 50) * 1_000;
    if (i % 4 === 3) {
      const startMs = 3_000 + ((i * 2_300) % 1_100_000);
      return segmentUrl(VBR, startMs, startMs + lengthMs);
    }
    const startMs = 7_000 + i * 1_700;
    return segmentUrl(HOUR, startMs, startMs + lengthMs);
  });
}

async function fetchBytes(url: string): Promise<{ status: number; cache: string | null; bytes: Buffer }> {
  const response = await fetch(url);
  return { status: response.status, cache: response.headers.get('x-cache-status'), bytes: Buffer.from(await response.arrayBuffer()) };
}

function fromLoad(
  id: string,
  name: string,
  reference: boolean,
  load: LoadResult,
  extra: Record<string, number | string> = {},
): ScenarioResult {
  return {
    id,
    name,
    reference,
    requests: load.requests,
    errors: load.errors,
    requestsPerSecond: load.requestsPerSecond,
    megabytesPerSecond: load.megabytesPerSecond,
    latency: load.latency,
    roundsPerSecond: load.roundsPerSecond,
    extra: { ...extra, ...load.errorDetail },
  };
}

async function main(): Promise<BenchReport> {
  const programs = ensurePrograms(['nginx', 'redis-server', 'wrk'], say);
  const mediaRoot = path.join(root, 'media');
  say(`bench (${quick ? 'quick' : 'full'}): ${CORES} cores, work in ${root}`);
  await makeSources(mediaRoot);
  const config = parseConfig({
    PORT: String(await freePort()),
    API_PORT: String(await freePort()),
    DATA_DIR: path.join(root, 'data'),
    MEDIA_ROOT: mediaRoot,
    // Everything else is `npm start`'s default, the log level (info) included: an operator's stack logs.
  });
  const stack: Stack = await startStack(config, sink);
  started.push(stack);
  const media = await createMediaTools();
  const results: ScenarioResult[] = [];
  const record = (result: ScenarioResult) => {
    results.push(result);
    say(
      `  ${result.name}: ${result.requestsPerSecond !== undefined ? `${result.requestsPerSecond.toFixed(1)} req/s, ` : ''}median ${result.latency.find(([p]) => p >= 50)?.[1].toFixed(1)} ms, ${result.errors} errors`,
    );
  };
  const finished = (): BenchReport => ({
    date: new Date().toISOString(),
    quick,
    machine: machineFacts(),
    config: { workers: config.workers, hotCacheMaxBytes: config.hotCacheMaxBytes, wrkThreads: WRK_THREADS },
    results,
  });
  // Last in a whole run: each round gives the hour a new mtime, so the segments of the hour are keyed anew.
  async function peaksRows(): Promise<void> {
    say(`peaks of the hour, computed anew ${PLAN.peaksRounds} times, each beside a plain ffmpeg decode of it to PCM`);
    const peaks = await peaksBesideDecode({
      stack,
      ffmpegPath: media.ffmpegPath,
      input: path.join(mediaRoot, 'bench', 'hour.mp3'),
      sourcePath: '/sources/bench/hour',
      // The coarsest sizes (the answer's bytes are not what is measured), then the same at 16 bits: 8 URLs
      // nginx has not cached yet (a URL asked again within PEAKS_MAX_AGE_SECONDS would be a HIT).
      peaksPathFor: (round) =>
        `/sources/bench/hour/peaks.json?samples_per_pixel=${32_768 >> (round % 4)}${Math.floor(round / 4) % 2 ? '&bits=16' : ''}`,
      rounds: PLAN.peaksRounds,
    });
    record({
      id: 'pcm-decode',
      name: 'plain `ffmpeg -i SOURCE -f s16le /dev/null`, 61 min (reference)',
      reference: true,
      requests: peaks.decode.length,
      errors: 0,
      latency: percentilesOf(peaks.decode),
    });
    record({
      id: 'peaks-hour',
      name: 'new peaks of a 61-minute source, through nginx',
      reference: false,
      requests: peaks.service.times.length,
      errors: peaks.service.errors,
      latency: percentilesOf(peaks.service.times),
      extra: {
        workerGrowthMb: Math.round(peaks.workerGrowthMb * 10) / 10,
        workerPeakMb: Math.round(peaks.workerPeakMb * 10) / 10,
        ...peaks.service.errorKinds,
      },
    });
  }
  if (peaksOnly) {
    await peaksRows();
    return finished();
  }
  if (!hitsOnly) await crowdAndIndex();
  async function crowdAndIndex(): Promise<void> {
    record(await timeIndexBuild(mediaRoot));

    say(`${PLAN.waiting} requests waiting on renders at once (API direct)`);
    // First, on the freshly started API: its memory is then what holding the crowd costs, not the memory copy
    // of renders (up to HOT_CACHE_MAX_BYTES) that the later scenarios fill.
    // 200 distinct 5 s renders near the start of the file (cheap to seek to), 50 requests on each: the renders
    // take seconds, well inside WAIT_TIMEOUT_MS, so this measures holding the crowd, not render throughput.
    const crowdRenders = 200;
    const crowdStart = (i: number) => 10_000 + (i % crowdRenders) * 1_300;
    const crowd = await crowdOfWaiters({
      stack,
      count: PLAN.waiting,
      urlFor: (i) => segmentUrl(HOUR, crowdStart(i), crowdStart(i) + 5_000),
    });
    record({
      id: 'waiting',
      name: `${PLAN.waiting} requests waiting on renders`,
      reference: false,
      requests: crowd.times.length,
      errors: crowd.errors,
      latency: percentilesOf(crowd.times),
      extra: { peakRssMb: crowd.peakRssMb, baselineRssMb: crowd.baselineRssMb, distinctRenders: crowdRenders, ...crowd.errorKinds },
    });
  }

  // The 30 s segment every hit scenario asks for, rendered once; nginx static serves the same bytes.
  const hitPath = segmentUrl(HOUR, 1_800_000, 1_830_000);
  const first = await fetchBytes(stack.url + hitPath);
  const second = await fetchBytes(stack.url + hitPath);
  if (first.status !== 200 || second.cache !== 'HIT' || !second.bytes.equals(first.bytes))
    throw new Error(`the hit segment did not render and cache (${first.status}, ${second.cache})`);
  const staticDir = path.join(root, 'static');
  await mkdir(staticDir, { recursive: true });
  await writeFile(path.join(staticDir, 'segment.mp3'), first.bytes);
  await chmod(staticDir, 0o755);
  const staticNginx: ReferenceServer = await startStaticNginx({
    program: programs.nginx as string,
    dir: staticDir,
    work: path.join(root, 'static-nginx'),
    port: await freePort(),
    sink,
  });
  started.push({ stop: () => staticNginx.process.stop(4_000) });
  say(`hits: 64 connections, ${PLAN.hitRounds} interleaved rounds of ${PLAN.hitSeconds} s each`);
  const cold = await coldApi(stack, config, sink);
  started.push(cold);
  const hitLoads = await runInterleaved(
    [
      { id: 'nginx-static', url: `${staticNginx.url}/segment.mp3` },
      { id: 'nginx-hit', url: stack.url + hitPath },
      { id: 'api-hot', url: stack.apiUrl + hitPath },
      { id: 'api-cold', url: cold.url + hitPath },
    ],
    { rounds: PLAN.hitRounds, seconds: PLAN.hitSeconds, connections: 64, threads: WRK_THREADS },
  );
  record(fromLoad('nginx-static', 'nginx static file (reference)', true, hitLoads.get('nginx-static')!, { rounds: PLAN.hitRounds }));
  record(fromLoad('nginx-hit', 'nginx HIT, 30 s segment', false, hitLoads.get('nginx-hit')!, { rounds: PLAN.hitRounds }));
  record(fromLoad('api-hot', 'API store hit, hot (memory)', false, hitLoads.get('api-hot')!, { rounds: PLAN.hitRounds }));
  record(fromLoad('api-cold', 'API store hit, cold (file)', false, hitLoads.get('api-cold')!, { rounds: PLAN.hitRounds }));
  await cold.stop();
  if (hitsOnly) return finished();

  say(`cold misses one at a time (${PLAN.sequential} each, alternating with bare ffmpeg)`);
  const input = path.join(mediaRoot, 'bench', 'hour.mp3');
  for (const mode of ['copy', 'exact'] as const) {
    const { service, bare, cut } = await sequentialMisses({
      stack,
      ffmpegPath: media.ffmpegPath,
      input,
      workDir: root,
      count: PLAN.sequential,
      mode,
      urlFor: (startMs) => segmentUrl(HOUR, startMs, startMs + 30_000, mode),
    });
    record({
      id: `bare-${mode}`,
      name: mode === 'copy' ? 'plain `ffmpeg -ss S -i SOURCE -t 30 -c copy` (reference)' : 'bare ffmpeg, exact, 30 s (reference)',
      reference: true,
      requests: bare.length,
      errors: 0,
      latency: percentilesOf(bare),
    });
    if (cut.length > 0) {
      record({
        id: 'cut-copy',
        name: "the worker's sample cut alone, 30 s of an indexed source (reference)",
        reference: true,
        requests: cut.length,
        errors: 0,
        latency: percentilesOf(cut),
      });
    }
    record({
      id: `miss-${mode}`,
      name: `cold miss, ${mode}, 30 s`,
      reference: false,
      requests: service.times.length,
      errors: service.errors,
      latency: percentilesOf(service.times),
    });
  }

  say('a new 10-minute exact segment, streamed while it is rendered, through nginx: one client, then 50 at once');
  for (const [id, clients, startMs] of [
    ['stream-one', 1, 600_000],
    ['stream-crowd', 50, 1_300_000],
  ] as const) {
    const streamed = await streamedRender({ stack, clients, url: stack.url + segmentUrl(HOUR, startMs, startMs + 600_000, 'exact') });
    record({
      id,
      name: `${clients === 1 ? 'one client' : `${clients} clients at once`}: first byte of a new 10-minute exact segment`,
      reference: false,
      requests: clients,
      errors: streamed.errors,
      latency: percentilesOf(streamed.firstByteMs),
      extra: {
        lastByteMedianMs: Math.round(median(streamed.lastByteMs)),
        renders: streamed.renders,
        identical: streamed.identical ? 'yes' : 'no',
      },
    });
  }

  say(`cold copy misses one at a time while a warm of exact renders (Priority: u=7) fills the queue`);
  // Twice: as a listener asks (ahead of the warm, on the worker the background lane keeps free), then with
  // the warm's own Priority: u=7, which puts each miss in the warm's lane, as one more background render.
  let warmRenders = 0;
  for (const [id, name, missHeaders, offsetMs] of [
    ['miss-during-warm', 'cold miss, copy, 30 s, while a warm fills the queue', {}, 0],
    ['miss-behind-warm', "cold miss, copy, 30 s, asked with the warm's own Priority: u=7 (reference)", { priority: 'u=7' }, 300_000],
  ] as const) {
    const duringWarm = await missesDuringWarm({
      stack,
      count: PLAN.sequential,
      warmConnections: 16,
      warmUrlFor: (i) => segmentUrl(HOUR, 1_000_000 + (warmRenders + i) * 1_100, 1_010_000 + (warmRenders + i) * 1_100, 'exact'),
      missUrlFor: (i) => segmentUrl(HOUR, 3_000_000 + offsetMs + i * 1_370, 3_030_000 + offsetMs + i * 1_370),
      missHeaders,
    });
    warmRenders += duringWarm.warmAnswered + 16;
    record({
      id,
      name,
      reference: id === 'miss-behind-warm',
      requests: duringWarm.times.length,
      errors: duringWarm.errors,
      latency: percentilesOf(duringWarm.times),
      extra: { warmConnections: 16, warmWaitingAtFirstMiss: duringWarm.warmWaitingAtFirstMiss, warmAnswered: duringWarm.warmAnswered },
    });
  }

  // Through nginx (what players meet), then straight at the API: nginx keeps fetching a cacheable answer
  // after its client left, so only the API's own clients are seen to leave (docs/api.md#priorities).
  for (const [id, via, base, fromMs] of [
    ['hang-ups', 'through nginx', stack.url, 2_000_000],
    ['hang-ups-api', 'straight at the API', stack.apiUrl, 2_400_000],
  ] as const) {
    say(`100 clients ask for distinct exact segments at once, ${via}, and hang up after 200 ms`);
    const hungUp = await hangUps({
      stack,
      count: 100,
      hangUpMs: 200,
      base,
      urlFor: (i) => segmentUrl(HOUR, fromMs + i * 3_100, fromMs + 10_000 + i * 3_100, 'exact'),
    });
    record({
      id,
      name: `100 clients hang up after 200 ms, ${via} (distinct exact segments)`,
      reference: false,
      requests: 100,
      errors: 0,
      latency: percentilesOf([hungUp.drainedMs]),
      extra: { renders: hungUp.renders, workers: config.workers },
    });
  }

  say(
    `distinct cold copy misses: 32 connections, ${PLAN.distinctRounds} rounds of ${PLAN.distinctSeconds} s, each beside the cores' cut rate`,
  );
  // Each round a new stretch of the hour, so no key is asked twice across rounds.
  const stretchMs = Math.floor(3_400_000 / PLAN.distinctRounds);
  // Each round's CPU, part by part, to name what limits the misses (the cores, or waiting).
  const stackParts = {
    api: stack.api.processes.map((child) => child.pid),
    workers: stack.workers.processes.map((child) => child.pid),
    redis: stack.redis?.processes.map((child) => child.pid) ?? [],
    nginx: stack.nginx.processes.map((child) => child.pid),
  };
  const missCpu: Array<[CpuSample, CpuSample]> = [];
  const distinct = await runInterleaved(
    [
      {
        id: 'distinct-misses',
        run: async (round) => {
          const before = await sampleCpu(stackParts);
          const result = await runWrk({
            url: stack.url,
            connections: 32,
            threads: WRK_THREADS,
            seconds: PLAN.distinctSeconds,
            script: distinctSegmentsScript({
              prefix: '/segments/bench/hour/',
              firstMs: 100_000 + round * stretchMs,
              stepMs: 100,
              lengthMs: 30_000,
            }),
          });
          missCpu.push([before, await sampleCpu(stackParts)]);
          return result;
        },
      },
      {
        id: 'cores-cut',
        run: () => coresCutRate({ input, output: path.join(root, 'cut-rate.mp3'), seconds: PLAN.distinctSeconds / 2, cores: CORES }),
      },
    ],
    { rounds: PLAN.distinctRounds, seconds: PLAN.distinctSeconds, connections: 32, threads: WRK_THREADS },
  );
  record(
    fromLoad(
      'cores-cut',
      `what the cores can cut: ${CORES} × the worker's sample cut alone, back to back (reference)`,
      true,
      distinct.get('cores-cut')!,
    ),
  );
  record(
    fromLoad('distinct-misses', 'distinct cold copy misses, 32 connections', false, distinct.get('distinct-misses')!, {
      workers: config.workers,
      ...cpuExtra(cpuPerAnswer(...addIntervals(missCpu), distinct.get('distinct-misses')!.requests)),
    }),
  );

  say(
    `mixed Zipf load over 2,000 keys: 64 connections, ${PLAN.mixedSeconds} s from an empty cache, then ${PLAN.mixedRounds} rounds beside the naive server`,
  );
  const keys = mixedKeys();
  const mixedOptions = { connections: 64, threads: WRK_THREADS, script: zipfScript(keys, 42) };
  // From an empty cache (every key is new at first: its misses wait for renders; this happens once, so it
  // has no rounds), then steady state, where nginx's cache holds what a running service's would, in rounds
  // with the naive server. Renders are fast enough that the first pass caches nearly all 2,000 keys.
  const naive = await startNaiveServer({ mediaRoot, ffmpegPath: media.ffmpegPath, port: await freePort(), sink });
  started.push({ stop: () => naive.process.stop(4_000) });
  const coldStart = await hitRatioDuring(stack, config, () => runWrk({ ...mixedOptions, url: stack.url, seconds: PLAN.mixedSeconds }));
  record(fromLoad('mixed-cold', 'mixed Zipf load, service, from an empty cache', false, coldStart.load, coldStart.hits));
  const roundSeconds = Math.max(5, Math.round(PLAN.mixedSeconds / PLAN.mixedRounds));
  const { load: mixed, hits } = await hitRatioDuring(stack, config, () =>
    runInterleaved(
      [
        { id: 'mixed', url: stack.url, script: () => mixedOptions.script },
        { id: 'naive-mixed', url: naive.url, script: () => mixedOptions.script },
      ],
      { rounds: PLAN.mixedRounds, seconds: roundSeconds, connections: 64, threads: WRK_THREADS },
    ),
  );
  record(fromLoad('mixed', 'mixed Zipf load, service, steady state (through nginx)', false, mixed.get('mixed')!, hits));
  record(fromLoad('naive-mixed', 'mixed Zipf load, naive server (baseline)', true, mixed.get('naive-mixed')!));

  await peaksRows();
  return finished();
}
function machineFacts(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.type()} ${os.release()}, ${CORES} cores (${cpu}), ${Math.round(os.totalmem() / 1024 ** 3)} GB, Node ${process.versions.node}`;
}

/** Stops what the bench started, newest first, once: on its end, or on Ctrl-C / SIGTERM mid-run. */
let stopping: Promise<void> | null = null;
const stopStarted = () =>
  (stopping ??= (async () => {
    for (const owner of started.reverse()) await owner.stop().catch(() => undefined);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    say(`\n${signal}: stopping what the bench started`);
    void stopStarted().then(() => process.exit(130));
  });
}

let failed = false;
try {
  const report = await main();
  const files = await writeReport(
    report,
    path.join(PROJECT_ROOT, 'test', 'bench', 'results', `bench-${hitsOnly ? 'hits' : peaksOnly ? 'peaks' : quick ? 'quick' : 'full'}`),
  );
  say(`\nwritten: ${files.join(', ')}`);
} catch (error) {
  failed = true;
  process.stderr.write(`bench failed: ${(error as Error).stack}\nprocess log: ${logFile}\n`);
} finally {
  await stopStarted();
  if (!failed) await rm(root, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
