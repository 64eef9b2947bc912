import Fastify, { type FastifyInstance } from 'fastify';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMs, parseSecondsInput, segmentPath } from '../../../src/http/demo-page-client.js';
import { handleErrors } from '../../../src/http/problem-handler.js';
import { demoPageRoutes } from '../../../src/http/routes/demo-page.js';
import { sourceRoutes } from '../../../src/http/routes/sources.js';
import { parseRenderOptions } from '../../../src/segments/render-options.js';
import { formatSeconds } from '../../../src/segments/seconds.js';
import { canonicalSegmentUrl, parseSegmentPath } from '../../../src/segments/segment-url.js';
import { createCatalog } from '../../../src/sources/catalog.js';
import { createSourceList } from '../../../src/sources/source-list.js';

let app: FastifyInstance;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'demo-page-'));
  await mkdir(path.join(root, 'My Show (2024)'));
  await writeFile(path.join(root, 'My Show (2024)', 'épisode 1.mp3'), 'ID3 audio');
  await writeFile(path.join(root, 'text.mp3'), 'not audio');
  const probe = async (file: string) => {
    if (file.endsWith('text.mp3')) throw new Error('Invalid data found when processing input');
    return { formatName: 'mp3', codecName: 'mp3', durationSeconds: 90.04, sampleRate: 44100, channels: 2, bitRate: 128000 };
  };
  const catalog = await createCatalog({ mediaRoot: root, probe });
  app = Fastify({ logger: false });
  handleErrors(app);
  // Peaks are not this file's subject (test/integration/peaks.test.ts): nothing is recorded, no job is asked for.
  const noJobs = () => Promise.reject(new Error('no peaks in this test'));
  await app.register(sourceRoutes, {
    catalog,
    sourceList: await createSourceList({ mediaRoot: root, catalog }),
    peaksMaxAgeSeconds: 60,
    peaksRecords: { read: async () => null },
    peaksRequester: { request: noJobs, submit: noJobs },
  });
  await app.register(demoPageRoutes);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await rm(root, { recursive: true, force: true });
});

/** What the API would redirect `url` to; equal to `url` when it is canonical. */
function canonicalFor(url: string): string {
  const [pathPart = '', query = ''] = url.split('?');
  const params = Object.fromEntries(new URLSearchParams(query));
  return canonicalSegmentUrl({ ...parseSegmentPath(pathPart), options: parseRenderOptions(params), download: false });
}

describe("the demo page's URL building", () => {
  it('reads seconds as typed, rounding past the millisecond', () => {
    expect(parseSecondsInput('10')).toBe(10_000);
    expect(parseSecondsInput(' 010.50 ')).toBe(10_500);
    expect(parseSecondsInput('.5')).toBe(500);
    expect(parseSecondsInput('1.0005')).toBe(1_001);
    expect(parseSecondsInput('1.005')).toBe(1_005);
    for (const bad of ['', '.', '-1', '1e3', 'ten', '1,5']) expect(parseSecondsInput(bad)).toBeNull();
  });

  it('formats every millisecond count exactly as the server does', () => {
    for (const ms of [0, 1, 10, 100, 999, 1000, 1500, 7250, 10_001, 754_500, 9_999_999_999]) expect(formatMs(ms)).toBe(formatSeconds(ms));
    for (let ms = 0; ms < 5000; ms += 7) expect(formatMs(ms)).toBe(formatSeconds(ms));
  });

  it('builds canonical URLs (no 308) with each source path segment percent-encoded', () => {
    const cases: [string, string, string, string][] = [
      ['demo/tones', '10', '20', 'copy'],
      ['demo/talk', '010.50', '20.000', 'exact'],
      ['My Show (2024)/épisode 1', '.25', '1.0005', 'copy'],
      ['a?b#c/100%&more', '0', '7', 'exact'],
    ];
    for (const [source, start, end, mode] of cases) {
      const url = segmentPath(source, parseSecondsInput(start) ?? NaN, parseSecondsInput(end) ?? NaN, mode);
      expect(canonicalFor(url)).toBe(url);
      expect(parseSegmentPath(url.split('?')[0] ?? '').source).toEqual(source.split('/'));
    }
    expect(segmentPath('My Show (2024)/épisode 1', 10_500, 20_000, 'exact')).toBe(
      '/segments/My%20Show%20(2024)/%C3%A9pisode%201/10.5-20.mp3?mode=exact',
    );
  });
});

describe('GET /', () => {
  it('answers the self-contained page, revalidated on every use', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'sha256-/);
    for (const id of ['source', 'start', 'end', 'mode', 'play', 'url', 'copy', 'player']) expect(response.body).toContain(`id="${id}"`);
    // No external assets: nothing is loaded from another origin.
    expect(response.body).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('answers 304 to its own ETag', async () => {
    const first = await app.inject({ method: 'GET', url: '/' });
    const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });
});

describe('GET /sources', () => {
  it('lists every source with its facts, and the ones that cannot be served with why', async () => {
    const response = await app.inject({ method: 'GET', url: '/sources' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.json()).toEqual({
      sources: [
        {
          source: 'My Show (2024)/épisode 1',
          durationSeconds: 90.04,
          sampleRate: 44100,
          channels: 2,
          bitRate: 128000,
          size: 9,
          segments: '/segments/My%20Show%20(2024)/%C3%A9pisode%201/{start}-{end}.mp3',
        },
        { source: 'text', error: "'text' is not a decodable MP3 file; replace the file with a valid MP3." },
      ],
      truncated: false,
    });
  });
});
