// Hostile input: property-based requests (fast-check) over the segment URL, its query and its headers,
// through nginx and straight at the API. Every answer is a 4xx problem or a correct 200/206/304/308: never
// a 5xx, never a hang, never a byte from outside MEDIA_ROOT, and the processes stay up. Malformed sources
// get 422 with a clear detail, and their jobs are not retried.
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBytes, queueEventsFromNow, rawGet, startTestStack, type TestStack } from '../helpers/test-stack.js';

const SEED = 20261124;
const DEADLINE_MS = 10_000;
const SECRET = 'TOP-SECRET-OUTSIDE-MEDIA-ROOT';
/** The only sources a 200 may come from. */
const INSIDE = ['demo/tones', 'demo/chirp', 'demo/talk', 'bad/truncated-half'];

let t: TestStack;
let pidsBefore: number[];
const seen = new Map<number, number>();

beforeAll(async () => {
  t = await startTestStack({ WORKERS: '1' });
  const root = t.config.mediaRoot;
  const outside = path.join(path.dirname(root), 'outside');
  await mkdir(outside, { recursive: true });
  // A real MP3 and a marked text file outside the root, reachable only through symlinks that leave it.
  await copyFile(path.join(root, 'demo', 'chirp.mp3'), path.join(outside, 'secret.mp3'));
  await writeFile(path.join(outside, 'notes.mp3'), `${SECRET}\n`.repeat(100));
  await symlink(path.join(outside, 'secret.mp3'), path.join(root, 'escape.mp3'));
  await symlink(outside, path.join(root, 'escapedir'));
  await symlink('../../outside/notes.mp3', path.join(root, 'demo', 'notes.mp3'));
  const tones = await readFile(path.join(root, 'demo', 'tones.mp3'));
  // Malformed sources.
  await writeFile(path.join(root, 'bad', 'junk.mp3'), Buffer.from(Array.from({ length: 40_000 }, (_, i) => (i * 7919 + 13) % 251)));
  await writeFile(path.join(root, 'bad', 'truncated-head.mp3'), tones.subarray(0, 200));
  await writeFile(path.join(root, 'bad', 'truncated-half.mp3'), tones.subarray(0, Math.floor(tones.length / 2)));
  // An ID3v2 header that claims a 200 MB tag, in front of a few KB of real audio.
  const claim = 200 * 1024 * 1024;
  const syncsafe = [21, 14, 7, 0].map((shift) => (claim >> shift) & 0x7f);
  await writeFile(
    path.join(root, 'bad', 'huge-id3.mp3'),
    Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, ...syncsafe]), tones.subarray(tones.length - 8_000)]),
  );
  pidsBefore = [...t.stack.api.processes, ...t.stack.workers.processes].map((p) => p.pid);
});
afterAll(async () => {
  await t?.stop();
  console.log(`hostile input: statuses seen ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
});

/** The one invariant every answer must hold. */
async function send(base: string, rawPath: string, headers: Record<string, string> = {}): Promise<number> {
  const answer = await rawGet(base, rawPath, { headers, deadlineMs: DEADLINE_MS });
  seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
  const where = `${base}${rawPath.slice(0, 300)} ${JSON.stringify(headers).slice(0, 200)}`;
  expect(answer.status, where).toBeLessThan(500);
  expect(answer.body.includes(SECRET), where).toBe(false);
  if (answer.status >= 400) {
    expect(answer.headers['content-type'], where).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(answer.body.toString()) as { type: string; title: string; status: number; detail: string };
    expect(problem.status, where).toBe(answer.status);
    expect(typeof problem.type === 'string' && typeof problem.title === 'string' && problem.detail.length > 0, where).toBe(true);
  } else if (answer.status === 200 || answer.status === 206) {
    // nginx answers a multi-range request from its cache as multipart/byteranges (README: one range per
    // request at the API, nginx's own multipart in front).
    const multipart =
      answer.status === 206 && base === t.url && /^multipart\/byteranges; boundary=/.test(String(answer.headers['content-type']));
    if (!multipart) expect(answer.headers['content-type'], where).toBe('audio/mpeg');
    const source = decodeURIComponent(
      rawPath
        .split('?')[0]!
        .replace(/^\/segments\//, '')
        .replace(/\/[^/]*$/, ''),
    );
    expect(INSIDE, where).toContain(source);
  } else {
    expect([304, 308], where).toContain(answer.status);
  }
  return answer.status;
}

const bothWays = async (rawPath: string, headers?: Record<string, string>) => {
  await send(t.url, rawPath, headers);
  await send(t.apiUrl, rawPath, headers);
};

/** Pieces of hostile paths: traversal in every encoding, separators, NUL, overlong UTF-8, odd numbers. */
const PATH_TOKENS = [
  '..',
  '.',
  '%2e',
  '%2E',
  '%2e%2e',
  '%2E%2e',
  '.%2e',
  '%2e.',
  '%252e%252e',
  '..%2f',
  '%2f',
  '%2F',
  '%5c',
  '%5C',
  '\\',
  '/',
  '//',
  '%00',
  '%c0%ae',
  '%c0%af',
  '%e0%80%ae',
  '%ff',
  '%',
  '%zz',
  '~',
  '%20',
  '%C3%A9',
  ';',
  ':',
  '@',
  '!',
  '$',
  '&',
  "'",
  '(',
  '*',
  '+',
  ',',
  '=',
  'demo',
  'tones',
  'chirp',
  'escape',
  'escapedir',
  'secret',
  'notes',
  'outside',
  'bad',
  'etc',
  'passwd',
  '/etc/passwd',
  'C:',
  'mp3',
  '.mp3',
  '-',
  '0',
  '1',
  '1-2.mp3',
  '0-1.mp3',
  '2-1.mp3',
  'NaN',
  'Infinity',
  '-0',
  '1e3',
  '0x10',
  '+1',
  '99999999999999999999',
  '1.23456',
];
const NUMBERS = fc.oneof(
  fc.constantFrom(
    'NaN',
    'Infinity',
    '-Infinity',
    '-0',
    '0',
    '1e3',
    '1E-3',
    '0x1A',
    '+5',
    '5.',
    '.5',
    '5.1234',
    '00005',
    '1_000',
    '١٢',
    '',
    '%31',
    '1%2e5',
    '9'.repeat(40),
    '-1',
    '0.0001',
    '3600.001',
  ),
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.stringMatching(/^[0-9.eE+-]{1,12}$/),
);
const RUNS = { seed: SEED, numRuns: 300, endOnFailure: true };

describe('hostile URLs, queries and headers', () => {
  it('a path built from traversal pieces in every encoding never leaves MEDIA_ROOT and never yields a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...PATH_TOKENS), { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        async (pieces, withTimes) => {
          await bothWays(`/segments/${pieces.join('')}${withTimes ? '/1-2.mp3' : ''}`);
          await bothWays(`/segments/${pieces.join('/')}/0-1.mp3`);
        },
      ),
      RUNS,
    );
  });

  it('random printable paths and absolute paths get a 4xx or a redirect, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom(...'abc./\\%-_09~:@'.split('')), maxLength: 60 }), async (tail) => {
        await bothWays(`/segments/${tail}`);
        await bothWays(`/segments//${tail}/1-2.mp3`);
      }),
      RUNS,
    );
  });

  it('start and end in any spelling (NaN, Infinity, -0, exponents, huge numbers) are refused or redirected, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(NUMBERS, NUMBERS, async (start, end) => {
        await bothWays(`/segments/demo/chirp/${encodeURIComponent(start)}-${encodeURIComponent(end)}.mp3`);
      }),
      { ...RUNS, numRuns: 500 },
    );
  });

  it('random query strings, repeated and unknown parameters get a 400 (or the segment), never a 5xx', async () => {
    const name = fc.oneof(
      fc.constantFrom('mode', 'bitrate', 'channels', 'fade_in', 'fade_out', 'download', 'sig', '__proto__', 'constructor', 'mode[]', ''),
      fc.string({ maxLength: 8 }),
    );
    const value = fc.oneof(
      fc.constantFrom('exact', 'copy', '1', '2', '128', '0', '-1', 'NaN', '', '%00', '1e3'),
      fc.string({ maxLength: 8 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 8 }), async (pairs) => {
        const query = pairs.map(([key, val]) => `${encodeURIComponent(key)}=${encodeURIComponent(val)}`).join('&');
        await bothWays(`/segments/demo/chirp/1-2.mp3?${query}`);
      }),
      RUNS,
    );
  });

  it('malformed Range, If-Range and If-None-Match headers get 200/206/304/416, never a 5xx; a 206 is the right slice', async () => {
    const full = (await getBytes(`${t.url}/segments/demo/chirp/3-4.mp3`)).body;
    const range = fc.oneof(
      fc.constantFrom(
        'bytes=',
        'bytes=-',
        'bytes=5-1',
        'bytes=0-0,1-1',
        'bytes=-0',
        'bytes=0-',
        `bytes=${'9'.repeat(30)}-`,
        'items=0-1',
        'bytes=0-1,',
        'bytes = 1 - 2',
        'bytes=-1-2',
        'bytes=1.5-2',
        'bytes=0-1,2-3,4-5',
        `bytes=${full.length}-`,
      ),
      fc.tuple(fc.nat(full.length * 2), fc.nat(full.length * 2)).map(([a, b]) => `bytes=${a}-${b}`),
      fc.string({ maxLength: 30 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
    );
    const validator = fc.oneof(
      fc.constantFrom('*', '""', 'W/"x"', '"', ''),
      fc.string({ maxLength: 20 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
    );
    await fc.assert(
      fc.asyncProperty(range, fc.option(validator), fc.option(validator), async (rangeHeader, ifRange, ifNoneMatch) => {
        for (const base of [t.url, t.apiUrl]) {
          const headers: Record<string, string> = { range: rangeHeader };
          if (ifRange !== null) headers['if-range'] = ifRange;
          if (ifNoneMatch !== null) headers['if-none-match'] = ifNoneMatch;
          const status = await send(base, '/segments/demo/chirp/3-4.mp3', headers);
          expect([200, 206, 304, 400, 416]).toContain(status);
          const single = await rawGet(base, '/segments/demo/chirp/3-4.mp3', { headers: { range: rangeHeader } });
          seen.set(single.status, (seen.get(single.status) ?? 0) + 1);
          expect(single.status).toBeLessThan(500);
          const contentRange = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(single.headers['content-range'] ?? ''));
          if (single.status === 206 && contentRange)
            expect(single.body.equals(full.subarray(Number(contentRange[1]), Number(contentRange[2]) + 1))).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('thousands of query parameters, a 100 KB query, a 20 KB header and a 9 KB path are refused with a 4xx problem', async () => {
    const many = Array.from({ length: 5_000 }, (_, i) => `p${i}=${i}`).join('&');
    for (const base of [t.url, t.apiUrl]) {
      expect(await send(base, `/segments/demo/chirp/1-2.mp3?${many}`)).toBeGreaterThanOrEqual(400);
      expect(await send(base, `/segments/demo/chirp/1-2.mp3?mode=${'x'.repeat(100_000)}`)).toBeGreaterThanOrEqual(400);
      expect(await send(base, '/segments/demo/chirp/1-2.mp3', { 'x-filler': 'y'.repeat(20_000) })).toBeGreaterThanOrEqual(400);
      expect(await send(base, `/segments/${'a/'.repeat(4_500)}1-2.mp3`)).toBeGreaterThanOrEqual(400);
    }
  });

  it('a JSON body naming a source with a lone UTF-16 surrogate is a 400 problem, not a 5xx', async () => {
    for (const base of [t.url, t.apiUrl]) {
      const response = await fetch(`${base}/renders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"source":"demo/\\ud800x","start":1,"end":2}',
        signal: AbortSignal.timeout(DEADLINE_MS),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await response.json()) as { detail: string }).detail).toMatch(/lone UTF-16 surrogate/);
    }
  });

  it('symlinks that leave MEDIA_ROOT are 404, whatever points at them', async () => {
    for (const source of ['escape', 'escapedir/secret', 'escapedir/notes', 'demo/notes']) {
      for (const base of [t.url, t.apiUrl]) {
        expect(await send(base, `/segments/${source}/1-2.mp3`)).toBe(404);
        expect(await send(base, `/sources/${source}`)).toBe(404);
      }
    }
  });

  it('after all of it the same processes are up and healthy', async () => {
    expect([...t.stack.api.processes, ...t.stack.workers.processes].map((p) => p.pid)).toEqual(pidsBefore);
    expect(t.stack.api.restarts + t.stack.workers.restarts).toBe(0);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });
});

describe('malformed sources', () => {
  it.each([
    ['bad/junk', /'bad\/junk' is not a decodable MP3 file/],
    ['bad/not-audio', /'bad\/not-audio' is not a decodable MP3 file/],
    ['bad/empty', /'bad\/empty' is not a decodable MP3 file: it is empty\./],
    ['bad/truncated-head', /'bad\/truncated-head' is not a decodable MP3 file/],
    ['bad/huge-id3', /'bad\/huge-id3' is not a decodable MP3 file/],
  ])('%s gets 422 naming the source, for its facts and its segments', async (source, detail) => {
    for (const url of [`/sources/${source}`, `/segments/${source}/0-1.mp3`]) {
      const { status, headers, body } = await rawGet(t.url, url, { deadlineMs: DEADLINE_MS });
      expect(status, url).toBe(422);
      expect(headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(body.toString()).detail).toMatch(detail);
    }
  });

  it('a source cut in half is served up to where its bytes end; a segment past that is 422', async () => {
    const facts = JSON.parse((await rawGet(t.url, '/sources/bad/truncated-half')).body.toString()) as { durationSeconds: number };
    expect(facts.durationSeconds).toBeGreaterThan(40);
    expect(facts.durationSeconds).toBeLessThan(50);
    expect((await rawGet(t.url, '/segments/bad/truncated-half/10-12.mp3')).status).toBe(200);
    const past = await rawGet(t.url, '/segments/bad/truncated-half/60-62.mp3');
    expect(past.status).toBe(422);
    expect(JSON.parse(past.body.toString()).detail).toMatch(/start/i);
  });

  it('a damaged source that probes as MP3 fails its render once with 422: the job is not retried', async () => {
    const events = await queueEventsFromNow(t);
    const active: string[] = [];
    events.on('active', ({ jobId }) => active.push(jobId));
    try {
      const { status, body } = await rawGet(t.url, '/segments/bad/damaged/10-20.mp3', { deadlineMs: 30_000 });
      expect(status).toBe(422);
      expect(JSON.parse(body.toString()).detail).toMatch(/damaged/);
      expect(active).toHaveLength(1);
    } finally {
      await events.close();
    }
  });
});
