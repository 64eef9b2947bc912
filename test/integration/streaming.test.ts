// An exact render streamed to its listeners while it is written (issue 12), on the real stack through
// nginx: first bytes before the render has ended, the length stated up front, and the bytes the same as
// the store's file and every later hit (nginx keeps the streamed answer and serves Range from it); a
// crowd shares one render, each client streamed; a Range request straight at the API waits for the end.
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gaplessSamples } from '../helpers/decoders.js';
import { getBytes, rendersTotal, startTestStack, type TestStack } from '../helpers/test-stack.js';

let t: TestStack;
let scratch: string;
beforeAll(async () => {
  t = await startTestStack({ WORKERS: '2' }, { longSource: 'long/hour' });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-streaming-'));
});
afterAll(async () => {
  await t?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Streamed {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** segment_renders_total when the first body bytes arrived. */
  rendersAtFirstByte: number;
}

/** GET that notes how many renders had ended when its first body bytes came. */
function getNotingFirstByte(url: string, headers: Record<string, string> = {}): Promise<Streamed> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers }, (response) => {
        const chunks: Buffer[] = [];
        let rendersAtFirstByte: Promise<number> | null = null;
        response.on('data', (chunk: Buffer) => {
          rendersAtFirstByte ??= rendersTotal(t.apiUrl);
          chunks.push(chunk);
        });
        response.on('end', async () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
            rendersAtFirstByte: await (rendersAtFirstByte ?? Promise.resolve(-1)),
          });
        });
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

async function gaplessSecondsOf(body: Buffer): Promise<number> {
  const file = path.join(scratch, `${Math.random().toString(36).slice(2)}.mp3`);
  await writeFile(file, body);
  return (await gaplessSamples(file, 2)) / 44_100;
}

describe('an exact render streamed while it is written', () => {
  it('sends its first bytes before the render has ended, states its whole length, and they are the bytes every later answer has', async () => {
    const url = `${t.url}/segments/long/hour/600-840.mp3?mode=exact`;
    const before = await rendersTotal(t.apiUrl);
    const streamed = await getNotingFirstByte(url);
    expect(streamed.status).toBe(200);
    // A 4-minute re-encode takes seconds; its first bytes came while it was still being made.
    expect(streamed.rendersAtFirstByte).toBe(before);
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
    expect(Number(streamed.headers['content-length'])).toBe(streamed.body.length);
    expect(await gaplessSecondsOf(streamed.body)).toBe(240);

    // nginx kept the streamed answer: a HIT with the same bytes, and Range served from it.
    const hit = await getBytes(url);
    expect(hit.response.headers.get('x-cache-status')).toBe('HIT');
    expect(hit.body.equals(streamed.body)).toBe(true);
    const range = await getBytes(url, { headers: { range: 'bytes=100000-199999' } });
    expect(range.response.status).toBe(206);
    expect(range.body.equals(streamed.body.subarray(100_000, 200_000))).toBe(true);
    // And the API's own answer (from the store) is the same bytes.
    const stored = await getBytes(`${t.apiUrl}/segments/long/hour/600-840.mp3?mode=exact`);
    expect(stored.body.equals(streamed.body)).toBe(true);
  });

  it('a crowd asking at once for a new exact segment shares one render, each client streamed from before its end, identical bytes', async () => {
    const url = `${t.url}/segments/long/hour/1000-1180.mp3?mode=exact`;
    const before = await rendersTotal(t.apiUrl);
    const answers = await Promise.all(Array.from({ length: 20 }, () => getNotingFirstByte(url)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
    // nginx holds the rest of the crowd only briefly (its cache lock), then the API streams the render to each.
    expect(answers.filter((answer) => answer.rendersAtFirstByte === before)).toHaveLength(20);
    for (const answer of answers) expect(answer.body.equals(answers[0]!.body)).toBe(true);
    expect(await gaplessSecondsOf(answers[0]!.body)).toBe(180);
  });

  it('a Range request straight at the API while the render is written waits for its end and gets 206 of the same bytes', async () => {
    const path = '/segments/long/hour/1300-1420.mp3?mode=exact';
    const before = await rendersTotal(t.apiUrl);
    const [range, whole] = await Promise.all([
      getNotingFirstByte(t.apiUrl + path, { range: 'bytes=5000-9999' }),
      // The plain GET starts the render and is streamed; the Range request joins it.
      getNotingFirstByte(t.apiUrl + path),
    ]);
    expect(whole.status).toBe(200);
    expect(whole.rendersAtFirstByte).toBe(before);
    expect(range.status).toBe(206);
    expect(range.headers['content-range']).toBe(`bytes 5000-9999/${whole.body.length}`);
    expect(range.rendersAtFirstByte).toBe(before + 1);
    expect(range.body.equals(whole.body.subarray(5000, 10_000))).toBe(true);
  });
});
