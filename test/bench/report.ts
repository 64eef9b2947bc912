// Owns what a bench run leaves: each target checked against its reference from the same run, the printed
// table, the raw results as JSON and the latency chart as SVG.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { latencyChartSvg } from './latency-chart.js';
import { median, percentileAt } from './samples.js';

export interface ScenarioResult {
  id: string;
  name: string;
  /** A reference point (nginx static, bare ffmpeg, the naive server), not the product. */
  reference: boolean;
  requests: number;
  errors: number;
  requestsPerSecond?: number;
  megabytesPerSecond?: number;
  /** [percentile, ms] */
  latency: [number, number][];
  /** Requests per second of each interleaved round (scenarios run in rounds beside their reference). */
  roundsPerSecond?: number[];
  extra?: Record<string, number | string>;
}

export interface BenchReport {
  date: string;
  quick: boolean;
  machine: string;
  config: Record<string, number>;
  results: ScenarioResult[];
}

export interface TargetCheck {
  scenario: string;
  target: string;
  measured: string;
  met: boolean;
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/**
 * A product's rate over its reference's, round by round when both ran in the same interleaved rounds: the
 * median of the per-round ratios and their range. Otherwise one ratio of the totals, and no range.
 */
export function rateRatio(
  product: ScenarioResult | undefined,
  reference: ScenarioResult | undefined,
): { median: number; min: number; max: number; rounds: number } {
  const a = product?.roundsPerSecond ?? [];
  const b = reference?.roundsPerSecond ?? [];
  if (a.length > 1 && a.length === b.length) {
    const ratios = a.map((rate, i) => rate / b[i]!).sort((x, y) => x - y);
    return { median: median(ratios), min: ratios[0]!, max: ratios[ratios.length - 1]!, rounds: ratios.length };
  }
  const value = (product?.requestsPerSecond ?? Number.NaN) / (reference?.requestsPerSecond ?? Number.NaN);
  return { median: value, min: value, max: value, rounds: 1 };
}

const spread = (r: { median: number; min: number; max: number; rounds: number }) =>
  r.rounds > 1
    ? `${fixed(r.median, 2)} × (${fixed(r.min, 2)}-${fixed(r.max, 2)} over ${r.rounds} rounds)`
    : `${fixed(r.median, 2)} × (one run)`;

/** Every target, as measured: ratios against the reference points of the same run (issue 15's first). */
export function checkTargets(report: BenchReport): TargetCheck[] {
  const by = (id: string) => report.results.find((result) => result.id === id);
  const p = (id: string, percentile: number) => percentileAt(by(id)?.latency ?? [], percentile);
  const checks: TargetCheck[] = [];
  // A row whose scenarios did not run (`--hits`) is left out, not reported as missed.
  const ratio = (scenario: string, target: string, value: number, needed: number, atMost = false) => {
    if (Number.isFinite(value))
      checks.push({ scenario, target, measured: `${fixed(value, 2)} ×`, met: atMost ? value <= needed : value >= needed });
  };
  const rates = (scenario: string, target: string, id: string, referenceId: string, needed: number) => {
    const r = rateRatio(by(id), by(referenceId));
    if (Number.isFinite(r.median)) checks.push({ scenario, target, measured: spread(r), met: r.median >= needed });
  };

  rates('nginx HIT, 30 s segment, 64 connections (issue 15)', '≥ 0.95 × nginx static req/s', 'nginx-hit', 'nginx-static', 0.95);
  rates('store hit, hot (memory), 64 connections (issue 15)', '≥ 0.9 × nginx static req/s', 'api-hot', 'nginx-static', 0.9);
  rates('store hit, cold (file), 64 connections (issue 15)', '≥ 0.9 × nginx static req/s', 'api-cold', 'nginx-static', 0.9);
  rates(
    'distinct cold copy misses, 32 connections (issue 15)',
    "≥ 0.8 × what the cores can cut (cores ÷ the worker's median cut alone, same rounds)",
    'distinct-misses',
    'cores-cut',
    0.8,
  );
  const waiting = by('waiting');
  if (waiting) {
    const grownMb = Number(waiting.extra?.peakRssMb) - Number(waiting.extra?.baselineRssMb);
    const perWaiterKb = (grownMb * 1024) / waiting.requests;
    checks.push({
      scenario: `API memory per waiting request, ${waiting.requests} held on a fresh API (issue 15)`,
      target: '≤ 8 KB (RSS growth ÷ requests), all answered, 0 errors',
      measured: `${fixed(perWaiterKb)} KB (${fixed(grownMb)} MB over ${fixed(Number(waiting.extra?.baselineRssMb))} MB), ${waiting.errors} errors`,
      met: waiting.errors === 0 && perWaiterKb <= 8,
    });
  }
  for (const [id, when] of [
    ['mixed-cold', 'from an empty cache'],
    ['mixed', 'steady state'],
  ] as const) {
    const mixed = by(id);
    if (!mixed) continue;
    rates(`mixed Zipf load, ${when} (issue 15)`, '≥ 10 × naive req/s', id, 'naive-mixed', 10);
    checks.push({
      scenario: `mixed Zipf load, ${when} (issue 15)`,
      target: '0 errors, p99 below the naive p50',
      measured: `${mixed.errors} errors, p99 ${fixed(p(id, 99))} ms vs naive p50 ${fixed(p('naive-mixed', 50))} ms`,
      met: mixed.errors === 0 && p(id, 99) < p('naive-mixed', 50),
    });
  }
  ratio(
    'cold copy miss, 30 s, through nginx (issue 13)',
    'median ≤ 0.15 × plain ffmpeg -c copy',
    p('miss-copy', 50) / p('bare-copy', 50),
    0.15,
    true,
  );
  ratio(
    'cold copy miss, 30 s, through nginx (issue 13)',
    "median ≤ 1.25 × the worker's cut alone",
    p('miss-copy', 50) / p('cut-copy', 50),
    1.25,
    true,
  );
  if (by('cut-copy'))
    checks.push({
      scenario: "the worker's sample cut alone, 30 s (issue 13)",
      target: 'median under 5 ms',
      measured: `${fixed(p('cut-copy', 50), 2)} ms`,
      met: p('cut-copy', 50) < 5,
    });
  const indexBuild = by('index-build');
  if (indexBuild) {
    checks.push({
      scenario: indexBuild.name,
      target: 'stated',
      measured: `${fixed(p('index-build', 50), 0)} ms for ${indexBuild.extra?.minutes} min (${indexBuild.extra?.megabytes} MB)`,
      met: true,
    });
  }
  const peaks = by('peaks-hour');
  if (peaks) {
    ratio(
      'new peaks of a 61-minute source, through nginx (issue 16)',
      'median ≤ 1.3 × a plain ffmpeg decode of it to PCM',
      p('peaks-hour', 50) / p('pcm-decode', 50),
      1.3,
      true,
    );
    // The peaks of an hour at the finest size are 5 MB for stereo; the decode (635 MB of PCM) must never be held.
    const growthMb = Number(peaks.extra?.workerGrowthMb);
    checks.push({
      scenario: "memory of a worker computing an hour's peaks (issue 16)",
      target: 'RSS growth ≤ 64 MB (the decode is 635 MB of PCM)',
      measured: `${fixed(growthMb)} MB (peak ${fixed(Number(peaks.extra?.workerPeakMb))} MB), ${peaks.errors} errors`,
      met: growthMb <= 64 && peaks.errors === 0,
    });
  }
  ratio('cold miss, exact, one at a time', 'median ≤ 1.15 × bare ffmpeg', p('miss-exact', 50) / p('bare-exact', 50), 1.15, true);
  if (by('miss-during-warm')) {
    ratio(
      'cold copy miss while a warm fills the queue (issue 12)',
      'median ≤ 2 × the idle cold copy miss',
      p('miss-during-warm', 50) / p('miss-copy', 50),
      2,
      true,
    );
  }
  for (const [id, clients, limitMs] of [
    ['stream-one', 'one client', 500],
    ['stream-crowd', '50 clients at once', 1_000],
  ] as const) {
    const streamed = by(id);
    if (!streamed) continue;
    const slowest = p(id, 100);
    checks.push({
      scenario: `a new 10-minute exact segment through nginx, ${clients} (issue 12)`,
      target: `every first byte ≤ ${limitMs} ms, one render, identical bytes, 0 errors`,
      measured: `slowest first byte ${fixed(slowest, 0)} ms (last byte ${streamed.extra?.lastByteMedianMs} ms), ${streamed.extra?.renders} render(s), identical: ${streamed.extra?.identical}, ${streamed.errors} errors`,
      met: slowest <= limitMs && streamed.extra?.renders === 1 && streamed.extra?.identical === 'yes' && streamed.errors === 0,
    });
  }
  for (const [id, via] of [
    ['hang-ups', 'through nginx'],
    ['hang-ups-api', 'straight at the API'],
  ] as const) {
    const hungUp = by(id);
    if (!hungUp) continue;
    const renders = Number(hungUp.extra?.renders);
    const workers = Number(hungUp.extra?.workers);
    checks.push({
      scenario: `100 clients hang up after 200 ms, ${via} (issue 12)`,
      target: `at most one render per worker (${workers})`,
      measured: `${renders} render(s)`,
      met: renders <= workers,
    });
  }
  return checks;
}

export function formatTable(report: BenchReport, checks: TargetCheck[]): string {
  const rows = report.results.map((result) => {
    const rate = result.requestsPerSecond === undefined ? '' : fixed(result.requestsPerSecond);
    const mbs = result.megabytesPerSecond === undefined ? '' : fixed(result.megabytesPerSecond);
    return `| ${result.name} | ${result.requests} | ${rate} | ${mbs} | ${fixed(percentileAt(result.latency, 50))} | ${fixed(percentileAt(result.latency, 99))} | ${result.errors} |`;
  });
  const targets = checks.map(
    (check) => `| ${check.scenario} | ${check.target} | ${check.measured} | ${check.met ? 'met' : '**missed**'} |`,
  );
  return [
    '| scenario | requests | req/s | MB/s | p50 ms | p99 ms | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    '| target of | target | measured | |',
    '| --- | --- | --- | --- |',
    ...targets,
  ].join('\n');
}

/** Prints the tables and writes `<base>.json`, `<base>.svg` and `<base>.md`; returns the files written. */
export async function writeReport(report: BenchReport, base: string): Promise<string[]> {
  const checks = checkTargets(report);
  const table = formatTable(report, checks);
  process.stdout.write(`\n${table}\n`);
  await mkdir(path.dirname(base), { recursive: true });
  const series = report.results.map((result) => ({ name: result.name, points: result.latency }));
  const title = `Latency by percentile, ${report.quick ? 'quick' : 'full'} run, ${report.date.slice(0, 10)}, ${report.machine}`;
  const files = [`${base}.json`, `${base}.svg`, `${base}.md`];
  await writeFile(files[0]!, `${JSON.stringify({ ...report, targets: checks }, null, 2)}\n`);
  await writeFile(files[1]!, latencyChartSvg(series, { title }));
  await writeFile(files[2]!, `Bench run of ${report.date} on ${report.machine}\n\n${table}\n`);
  return files;
}
