// Thundering herd: 500 concurrent requests for one new segment through nginx, and 500 straight at two API
// processes on the same Redis: every request gets the same correct bytes, and exactly one render runs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answeredOutcomes, outcomesSince } from '../helpers/metrics.js';
import { readMp3, type Mp3Summary } from '../helpers/mp3-frames.js';
import { checkSegment } from '../helpers/segment-oracle.js';
import { getBytes, rendersTotal, startExtraApi, startTestStack, type TestStack } from '../helpers/test-stack.js';

const HERD = 500;
let t: TestStack;
let tones: Mp3Summary;

beforeAll(async () => {
  t = await startTestStack({ WAIT_TIMEOUT_MS: '60000' });
  tones = readMp3(await readFile(path.join(t.config.mediaRoot, 'demo', 'tones.mp3')), { strict: false });
});
afterAll(async () => {
  await t?.stop();
});

/** All at once: fetch's default pool opens a connection per concurrent request (no per-origin limit). */
async function herd(urls: string[]): Promise<Array<{ status: number; cache: string | null; body: Buffer }>> {
  return Promise.all(
    urls.map(async (url) => {
      const { response, body } = await getBytes(url);
      return { status: response.status, cache: response.headers.get('x-cache-status'), body };
    }),
  );
}

function tally(values: Array<string | number | null>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}

describe('a thundering herd', () => {
  it(`${HERD} concurrent requests for one new segment through nginx cause one render, and all get the same correct bytes`, async () => {
    const segment = '/segments/demo/tones/20-50.mp3?mode=exact';
    const before = await rendersTotal(t.apiUrl);
    const answers = await herd(Array.from({ length: HERD }, () => t.url + segment));
    expect(tally(answers.map((a) => a.status))).toEqual({ 200: HERD });
    const [first] = answers;
    for (const answer of answers) expect(answer.body.equals(first!.body)).toBe(true);
    await checkSegment(tones, first!.body, { start: 20, end: 50, mode: 'exact' }, t.config.dataDir);
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
    console.log(
      `herd through nginx: ${HERD} requests → statuses ${JSON.stringify(tally(answers.map((a) => a.status)))}, X-Cache-Status ${JSON.stringify(tally(answers.map((a) => a.cache)))}, 1 render`,
    );
  });

  it(`${HERD} concurrent requests straight at two API processes on one Redis cause one render, and all get the same correct bytes`, async () => {
    const second = await startExtraApi(t);
    try {
      // A long exact render, so the requests at both processes are all waiting on it at once.
      const segment = '/segments/demo/tones/0-80.mp3?mode=exact&bitrate=320';
      const before = await rendersTotal(t.apiUrl);
      const [firstBefore, secondBefore] = [await answeredOutcomes(t.apiUrl), await answeredOutcomes(second.url)];
      const answers = await herd(Array.from({ length: HERD }, (_, i) => (i % 2 ? second.url : t.apiUrl) + segment));
      expect(tally(answers.map((a) => a.status))).toEqual({ 200: HERD });
      const [first] = answers;
      for (const answer of answers) expect(answer.body.equals(first!.body)).toBe(true);
      await checkSegment(tones, first!.body, { start: 0, end: 80, mode: 'exact', bitrate: 320 }, t.config.dataDir);
      expect(await rendersTotal(t.apiUrl)).toBe(before + 1);

      // Both processes really waited on the one render: each has requests that joined a wait.
      // A request that reached a process after the render ended (a slow start) counts as a hit.
      const [a, b] = [
        outcomesSince(await answeredOutcomes(t.apiUrl), firstBefore),
        outcomesSince(await answeredOutcomes(second.url), secondBefore),
      ];
      expect(a.total + b.total).toBe(HERD);
      expect(a.joined).toBeGreaterThan(0);
      expect(b.joined).toBeGreaterThan(0);
      console.log(
        `herd at two API processes: ${HERD} requests → all 200, 1 render; process 1 ${JSON.stringify(a)}, process 2 ${JSON.stringify(b)}`,
      );
    } finally {
      await second.stop();
    }
  });
});
