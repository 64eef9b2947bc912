// Owns driving wrk (Debian's `wrk`): one run = one Lua script (the request pattern) plus the reporter below,
// whose done() prints the summary and latency percentiles as one JSON line. wrk, not a Node client, is the
// load generator so the client is never the bottleneck: it is C, event-driven, and keeps connections alive.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { median } from './samples.js';

export interface LoadResult {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  megabytesPerSecond: number;
  /** Socket errors and timeouts, and answers that were not 2xx/3xx. */
  errors: number;
  errorDetail: Record<string, number>;
  /** [percentile, milliseconds], from 0 to 100. */
  latency: [number, number][];
  /** Requests per second of each interleaved round, in order (runInterleaved only): the spread of a ratio. */
  roundsPerSecond?: number[];
}

const PERCENTILES = [10, 25, 50, 75, 90, 95, 99, 99.9, 99.99];

// Lua string for the percentiles table, so the reporter and the parser agree on them.
const REPORTER = `
done = function(summary, latency, requests)
  local points = { string.format("[0,%g]", latency.min / 1000) }
  for _, p in ipairs({ ${PERCENTILES.join(', ')} }) do
    points[#points + 1] = string.format("[%g,%g]", p, latency:percentile(p) / 1000)
  end
  points[#points + 1] = string.format("[100,%g]", latency.max / 1000)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"latency":[%s]}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, table.concat(points, ",")))
end
`;

/** Lua: every request goes to one of `paths`, picked with Zipf(s = 1) popularity (rank 1 the most asked). */
export function zipfScript(paths: string[], seed: number): string {
  return `
local paths = { ${paths.map((p) => JSON.stringify(p)).join(',\n')} }
local cdf = {}
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
init = function(args)
  math.randomseed(${seed} + tid)
  local total = 0
  for i = 1, #paths do total = total + 1 / i end
  local acc = 0
  for i = 1, #paths do acc = acc + (1 / i) / total; cdf[i] = acc end
end
request = function()
  local r = math.random()
  local lo, hi = 1, #paths
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then lo = mid + 1 else hi = mid end
  end
  return wrk.format("GET", paths[lo])
end
`;
}

/**
 * Lua: every request is a segment no one asked before: `prefix`<start>-<start + lengthMs>.mp3 with start =
 * firstMs + n × stepMs, n counted across threads. Seconds are spelled canonically (else the API answers 308).
 */
export function distinctSegmentsScript(options: { prefix: string; firstMs: number; stepMs: number; lengthMs: number }): string {
  return `
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads - 1)
end
local n = 0
local function seconds(ms)
  local text = string.format("%d.%03d", math.floor(ms / 1000), ms % 1000):gsub("0+$", ""):gsub("%.$", "")
  return text
end
init = function(args)
  nthreads = tonumber(args[1])
end
request = function()
  local k = n * nthreads + tid
  n = n + 1
  local start = ${options.firstMs} + k * ${options.stepMs}
  return wrk.format("GET", ${JSON.stringify(options.prefix)} .. seconds(start) .. "-" .. seconds(start + ${options.lengthMs}) .. ".mp3")
end
`;
}

export async function runWrk(options: {
  url: string;
  connections: number;
  threads: number;
  seconds: number;
  script?: string;
  timeoutSeconds?: number;
}): Promise<LoadResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-wrk-'));
  try {
    const scriptFile = path.join(dir, 'script.lua');
    await writeFile(scriptFile, `${options.script ?? ''}\n${REPORTER}`);
    const args = [
      `-t${options.threads}`,
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      `--timeout`,
      `${options.timeoutSeconds ?? 30}s`,
      '-s',
      scriptFile,
      options.url,
      // After `--`, the script's init(args): the thread count, for scripts that split work by thread.
      '--',
      String(options.threads),
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile('wrk', args, { maxBuffer: 16 * 1024 * 1024 }, (error, out, err) =>
        error ? reject(new Error(`wrk failed: ${err || error.message}`)) : resolve(out),
      );
    });
    const line = stdout.split('\n').find((text) => text.startsWith('BENCH_JSON '));
    if (!line) throw new Error(`wrk printed no result:\n${stdout}`);
    const raw = JSON.parse(line.slice('BENCH_JSON '.length)) as {
      requests: number;
      duration_us: number;
      bytes: number;
      errors: Record<string, number>;
      latency: [number, number][];
    };
    const seconds = raw.duration_us / 1e6;
    return {
      requests: raw.requests,
      seconds,
      requestsPerSecond: raw.requests / seconds,
      megabytesPerSecond: raw.bytes / 1e6 / seconds,
      errors: Object.values(raw.errors).reduce((sum, count) => sum + count, 0),
      errorDetail: raw.errors,
      latency: raw.latency,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs each of `loads` for `rounds` rounds of `seconds`, in turn (A B C A B C ...), and adds each one's
 * rounds up. This machine's speed drifts by a quarter over a minute (other tenants): one 20 s run of a
 * reference and then one of the product would compare two different machines; interleaved short rounds
 * give both the same mix of fast and slow moments. Latency percentiles are the median of the rounds'.
 */
export async function runInterleaved(
  loads: Array<
    { id: string; url: string; script?: (round: number) => string } | { id: string; run: (round: number) => Promise<LoadResult> }
  >,
  options: { rounds: number; seconds: number; connections: number; threads: number },
): Promise<Map<string, LoadResult>> {
  const rounds = new Map<string, LoadResult[]>(loads.map(({ id }) => [id, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const load of loads) {
      const result = 'run' in load ? await load.run(round) : await runWrk({ ...options, url: load.url, script: load.script?.(round) });
      rounds.get(load.id)!.push(result);
    }
  }
  return new Map([...rounds].map(([id, results]) => [id, combined(results)]));
}

function combined(results: LoadResult[]): LoadResult {
  const sum = (pick: (result: LoadResult) => number) => results.reduce((total, result) => total + pick(result), 0);
  const seconds = sum((result) => result.seconds);
  const errorDetail: Record<string, number> = {};
  for (const result of results)
    for (const [kind, count] of Object.entries(result.errorDetail)) errorDetail[kind] = (errorDetail[kind] ?? 0) + count;
  const requests = sum((result) => result.requests);
  return {
    requests,
    seconds,
    requestsPerSecond: requests / seconds,
    megabytesPerSecond: sum((result) => result.megabytesPerSecond * result.seconds) / seconds,
    errors: sum((result) => result.errors),
    errorDetail,
    latency: results[0]!.latency.map(([percentile], i) => [percentile, median(results.map((result) => result.latency[i]![1]))]),
    roundsPerSecond: results.map((result) => result.requestsPerSecond),
  };
}
