// The regression suite: every row of fixtures/cases.json, sent through the nginx front exactly as written,
// and its answer held to what the row expects and to the independent oracles (test/helpers).
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { readMp3, type Mp3Summary } from '../helpers/mp3-frames.js';
import { checkSegment, type SegmentAsk } from '../helpers/segment-oracle.js';
import { rawGet, startTestStack, type TestStack } from '../helpers/test-stack.js';

interface CaseRow {
  name: string;
  url: string;
  expect: {
    status: number;
    sampleRate?: number;
    channels?: number;
    minSeconds?: number;
    maxSeconds?: number;
    location?: string;
    detail?: string;
  };
}

/** `cases` over the committed corpus; `longSource.cases` over the hour-long source made at test time. */
const table = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'fixtures', 'cases.json'), 'utf8')) as {
  cases: CaseRow[];
  longSource: { source: string; cases: CaseRow[] };
};
const rows = [...table.cases, ...table.longSource.cases];
let t: TestStack;
let scratch: string;
const sources = new Map<string, Promise<Mp3Summary>>();
/** Accuracy seen across the table, printed at the end for the README's accuracy section. */
const seen = {
  copyStartMs: [] as [number, string][],
  copyEndMs: [] as [number, string][],
  exactMs: [] as [number, string][],
  exactFfmpegMs: [] as [number, string][],
};
const worst = (values: [number, string][]) => {
  const [ms, where] = values.reduce((a, b) => (Math.abs(b[0]) > Math.abs(a[0]) ? b : a), [0, '-']);
  return `${Math.abs(ms).toFixed(2)} ms (${where})`;
};

beforeAll(async () => {
  t = await startTestStack({ WAIT_TIMEOUT_MS: '120000' }, { corpus: true, longSource: table.longSource.source });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-cases-'));
});
afterAll(async () => {
  console.log(
    `case table accuracy: copy start error ≤ ${worst(seen.copyStartMs)}, end error ≤ ${worst(seen.copyEndMs)} (${seen.copyStartMs.length} copies); ` +
      `exact length error ≤ ${worst(seen.exactMs)} by mpg123, ≤ ${worst(seen.exactFfmpegMs)} by ffmpeg's decoder (${seen.exactMs.length} re-encodes)`,
  );
  await t?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** What the row asks, read from its URL here (not with the service's parser). */
const rateOf = (verdict: { output: Mp3Summary }) => verdict.output.sampleRate;

function askOf(url: string): { source: string; ask: SegmentAsk } {
  const [pathPart = '', query = ''] = url.split('?');
  const parts = pathPart
    .replace(/^\/segments\//, '')
    .split('/')
    .filter(Boolean)
    .map(decodeURIComponent);
  const times = /^(.*)-(.*)\.mp3$/.exec(parts.pop() ?? '');
  const params = new URLSearchParams(query);
  const mode = params.get('mode') === 'exact' ? 'exact' : 'copy';
  const ask: SegmentAsk = { start: Number(times?.[1]), end: Number(times?.[2]), mode };
  if (params.has('bitrate')) ask.bitrate = Number(params.get('bitrate'));
  if (params.has('channels')) ask.channels = Number(params.get('channels'));
  return { source: parts.join('/'), ask };
}

function sourceMp3(source: string): Promise<Mp3Summary> {
  let summary = sources.get(source);
  if (!summary) {
    summary = readFile(path.join(t.config.mediaRoot, `${source}.mp3`)).then((bytes) => readMp3(bytes, { strict: false }));
    sources.set(source, summary);
  }
  return summary;
}

describe('the case table through the nginx front', () => {
  it('has rows, each with a unique name', () => {
    expect(table.cases.length).toBeGreaterThan(40);
    expect(table.longSource.cases.length).toBeGreaterThan(3);
    expect(new Set(rows.map((row) => row.name)).size).toBe(rows.length);
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const answer = await rawGet(t.url, row.url);
    const problem = () => answer.body.toString().slice(0, 300);
    expect(answer.status, problem()).toBe(row.expect.status);
    if (row.expect.status === 308) {
      expect(answer.headers.location).toBe(row.expect.location);
      return;
    }
    if (row.expect.status !== 200) {
      expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      const detail = JSON.parse(answer.body.toString()).detail as string;
      if (row.expect.detail) expect(detail).toMatch(new RegExp(row.expect.detail));
      return;
    }
    expect(answer.headers['content-type']).toBe('audio/mpeg');
    const { source, ask } = askOf(row.url);
    const verdict = await checkSegment(await sourceMp3(source), answer.body, ask, scratch);
    if (verdict.copy) {
      seen.copyStartMs.push([verdict.copy.startError * 1000, `${source} at ${rateOf(verdict)} Hz`]);
      const src = await sourceMp3(source);
      // Segments asked shorter than two frames are given two: their end is not a measure of accuracy.
      if (Math.min(ask.end, src.durationSeconds) - ask.start >= (2 * src.samplesPerFrame) / src.sampleRate)
        seen.copyEndMs.push([verdict.copy.endError * 1000, `${source} at ${rateOf(verdict)} Hz`]);
    } else {
      const asked = Math.min(ask.end, (await sourceMp3(source)).durationSeconds) - ask.start;
      seen.exactMs.push([(verdict.mpg123Seconds - asked) * 1000, `${source} at ${rateOf(verdict)} Hz`]);
      seen.exactFfmpegMs.push([((verdict.ffmpegSeconds ?? NaN) - asked) * 1000, `${source} at ${rateOf(verdict)} Hz`]);
    }
    if (row.expect.sampleRate !== undefined) expect(verdict.output.sampleRate).toBe(row.expect.sampleRate);
    if (row.expect.channels !== undefined) expect(verdict.output.channels).toBe(row.expect.channels);
    // The length a listener gets: what a gapless decoder plays (a sample cut, a re-encode), or the frames copied.
    const seconds = ask.mode === 'copy' && !verdict.sample ? verdict.output.rawDurationSeconds : verdict.mpg123Seconds;
    // A copy says how it was cut, and the bytes agree.
    if (ask.mode === 'copy') expect(answer.headers['x-cut']).toBe(verdict.sample ? 'sample' : 'frame');
    if (row.expect.minSeconds !== undefined) expect(seconds).toBeGreaterThanOrEqual(row.expect.minSeconds);
    if (row.expect.maxSeconds !== undefined) expect(seconds).toBeLessThanOrEqual(row.expect.maxSeconds);
  });
});
