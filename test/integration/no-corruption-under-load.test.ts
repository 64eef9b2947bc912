// A few hundred concurrent requests for distinct segments (many sources, both modes) through nginx: every
// single answer is checked with the independent oracles. The systems this replaces corrupted MP3 output
// under exactly this kind of load.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMp3, type Mp3Summary } from '../helpers/mp3-frames.js';
import { checkSegment, type SegmentAsk } from '../helpers/segment-oracle.js';
import { getBytes, rendersTotal, startTestStack, type TestStack } from '../helpers/test-stack.js';

const REQUESTS = 300;
let t: TestStack;
let scratch: string;
const sources = new Map<string, Mp3Summary>();

beforeAll(async () => {
  t = await startTestStack({ WAIT_TIMEOUT_MS: '180000' }, { corpus: true });
  scratch = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-load-'));
  for (const dir of ['demo', 'corpus']) {
    for (const name of await readdir(path.join(t.config.mediaRoot, dir))) {
      if (name.endsWith('.mp3'))
        sources.set(`${dir}/${name.slice(0, -4)}`, readMp3(await readFile(path.join(t.config.mediaRoot, dir, name)), { strict: false }));
    }
  }
});
afterAll(async () => {
  await t?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A fixed pseudo-random sequence, so a failure names a request that can be sent again. */
function* asks(): Generator<{ source: string; ask: SegmentAsk; url: string }> {
  const names = [...sources.keys()].sort();
  let seed = 20261123;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let i = 0; i < REQUESTS; i++) {
    const source = names[i % names.length]!;
    const duration = sources.get(source)!.durationSeconds;
    const start = Math.floor(next() * Math.max(0, duration - 1) * 1000) / 1000;
    const end = Math.round((start + 0.2 + next() * 3) * 1000) / 1000;
    const exact = i % 3 === 0;
    const ask: SegmentAsk = exact
      ? { start, end, mode: 'exact', bitrate: i % 2 ? 64 : 128, ...(i % 4 === 0 ? { channels: 1 } : {}) }
      : { start, end, mode: 'copy' };
    const query = exact
      ? `?mode=exact${ask.bitrate === 128 ? '' : `&bitrate=${ask.bitrate}`}${ask.channels ? `&channels=${ask.channels}` : ''}`
      : '';
    yield { source, ask, url: `/segments/${source.split('/').map(encodeURIComponent).join('/')}/${start}-${end}.mp3${query}` };
  }
}

describe('no corruption under load', () => {
  it(`${REQUESTS} concurrent requests for distinct segments all answer correct audio`, async () => {
    const planned = [...asks()];
    expect(new Set(planned.map((p) => p.url)).size).toBe(REQUESTS);
    const before = await rendersTotal(t.apiUrl);
    const answers = await Promise.all(planned.map((p) => getBytes(t.url + p.url)));
    const failures: string[] = [];
    answers.forEach((answer, i) => {
      if (answer.response.status !== 200)
        failures.push(`${planned[i]!.url}: ${answer.response.status} ${answer.body.toString().slice(0, 200)}`);
    });
    expect(failures).toEqual([]);
    // Check every body, a few at a time (each check runs two decoders).
    for (let i = 0; i < planned.length; i += 6) {
      await Promise.all(
        planned.slice(i, i + 6).map(async (p, j) => {
          await checkSegment(sources.get(p.source)!, answers[i + j]!.body, p.ask, scratch).catch((error: Error) =>
            failures.push(`${p.url}: ${error.message}`),
          );
        }),
      );
    }
    expect(failures).toEqual([]);
    expect(await rendersTotal(t.apiUrl)).toBe(before + REQUESTS);
  });
});
