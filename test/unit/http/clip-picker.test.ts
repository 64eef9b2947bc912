import Fastify, { type FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nudgedRegion, parseSecondsInput, peaksResolution, typedRegion, waveformPeaks } from '../../../src/http/clip-picker-client.js';
import { handleErrors } from '../../../src/http/problem-handler.js';
import { clipPickerRoutes } from '../../../src/http/routes/clip-picker.js';
import { sourceRoutes } from '../../../src/http/routes/sources.js';
import { canonicalForm } from '../../../src/segments/canonical-url.js';
import { canonicalSegmentUrl } from '../../../src/segments/segment-url.js';
import { createCatalog } from '../../../src/sources/catalog.js';
import { createSourceList } from '../../../src/sources/source-list.js';

let app: FastifyInstance;
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'clip-picker-'));
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
  await app.register(clipPickerRoutes);
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await rm(root, { recursive: true, force: true });
});

describe("the clip picker's browser code", () => {
  it('reads seconds as typed, rounding past the millisecond', () => {
    expect(parseSecondsInput('10')).toBe(10_000);
    expect(parseSecondsInput(' 010.50 ')).toBe(10_500);
    expect(parseSecondsInput('.5')).toBe(500);
    expect(parseSecondsInput('1.0005')).toBe(1_001);
    expect(parseSecondsInput('1.005')).toBe(1_005);
    for (const bad of ['', '.', '-1', '1e3', 'ten', '1,5']) expect(parseSecondsInput(bad)).toBeNull();
  });

  it("writes segment URLs with the server's own canonical form, which runs on its own text alone (as the page runs it)", () => {
    // A context with nothing of this module: a reference to an import or a module constant would throw here.
    const alone = vm.runInNewContext(`(${canonicalForm.toString()})()`, {}) as ReturnType<typeof canonicalForm>;
    const asks = [
      { source: ['demo', 'tones'], startMs: 10_000, endMs: 20_500, options: { mode: 'copy' as const }, download: false },
      {
        source: ['My Show (2024)', 'épisode 1'],
        startMs: 250,
        endMs: 1_001,
        options: { mode: 'exact' as const, bitrateKbps: 64, channels: 1 as const, fadeInMs: 500, fadeOutMs: 0 },
        download: true,
      },
      {
        source: ['a?b#c', '100%&more'],
        startMs: 0,
        endMs: 7_000,
        options: { mode: 'exact' as const, bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 1_250 },
        download: false,
      },
    ];
    for (const ask of asks) expect(alone.canonicalSegmentUrl(ask)).toBe(canonicalSegmentUrl(ask));
    for (let ms = 0; ms < 5000; ms += 7) expect(alone.formatSeconds(ms)).toBe(canonicalForm().formatSeconds(ms));
  });

  it('turns audiowaveform min/max pairs into a top and a bottom line, across channels, scaled by bits', () => {
    const stereo = {
      version: 2,
      channels: 2,
      sample_rate: 8000,
      samples_per_pixel: 256,
      bits: 8,
      length: 2,
      data: [-10, 20, -64, 5, 0, 0, -128, 127],
    };
    const [top, bottom] = waveformPeaks(stereo);
    expect([...top]).toEqual([20 / 128, 127 / 128]);
    expect([...bottom]).toEqual([-64 / 128, -128 / 128]);
    const mono = { version: 2, sample_rate: 8000, samples_per_pixel: 256, bits: 16, length: 1, data: [-16384, 32767] };
    expect(waveformPeaks(mono).map((line) => [...line])).toEqual([[32767 / 32768], [-0.5]]);
  });

  it('asks for the coarsest peaks that still give a pixel each', () => {
    const served = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768];
    expect(peaksResolution(44_100, 90, 4000, served)).toBe(512);
    expect(peaksResolution(44_100, 3600, 4000, served)).toBe(32768);
    expect(peaksResolution(8000, 1, 4000, served)).toBe(256);
  });

  it('nudges one edge, never past the other or out of the source', () => {
    const region = { startMs: 1000, endMs: 2000 };
    expect(nudgedRegion(region, 'start', 26.122, 90_000)).toEqual({ startMs: 1026, endMs: 2000 });
    expect(nudgedRegion(region, 'end', -100, 90_000)).toEqual({ startMs: 1000, endMs: 1900 });
    expect(nudgedRegion(region, 'start', 5000, 90_000)).toEqual({ startMs: 1999, endMs: 2000 });
    expect(nudgedRegion(region, 'start', -5000, 90_000)).toEqual({ startMs: 0, endMs: 2000 });
    expect(nudgedRegion(region, 'end', 100_000, 90_000)).toEqual({ startMs: 1000, endMs: 90_000 });
  });

  it('moves the other edge along when a typed start or end passes it', () => {
    const region = { startMs: 1000, endMs: 2000 };
    expect(typedRegion(region, 'start', 1500, 90_000)).toEqual({ startMs: 1500, endMs: 2000 });
    expect(typedRegion(region, 'start', 30_250, 90_000)).toEqual({ startMs: 30_250, endMs: 31_250 });
    expect(typedRegion(region, 'start', 89_500, 90_000)).toEqual({ startMs: 89_500, endMs: 90_000 });
    expect(typedRegion(region, 'end', 500, 90_000)).toEqual({ startMs: 0, endMs: 500 });
    expect(typedRegion(region, 'end', 95_000, 90_000)).toEqual({ startMs: 1000, endMs: 90_000 });
  });
});

describe('GET /', () => {
  it('answers the page under a CSP that runs its inline script and the two library files by hash, styles by a fresh nonce', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toMatch(/^default-src 'none'; script-src 'sha256-[^ ;]+' 'sha256-[^ ;]+' 'sha256-[^ ;]+'; style-src 'nonce-[^ ;]+';/);
    const inline = /<script>([\s\S]*?)<\/script>/.exec(response.body)?.[1] ?? '';
    expect(csp).toContain(`'sha256-${createHash('sha256').update(inline).digest('base64')}'`);
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(response.body).toContain(`<style nonce="${nonce}">`);
    const again = await app.inject({ method: 'GET', url: '/' });
    expect(String(again.headers['content-security-policy'])).not.toContain(`'nonce-${nonce}'`);
    for (const id of [
      'source',
      'waveform',
      'zoom',
      'start',
      'end',
      'mode',
      'bitrate',
      'channels',
      'fade-in',
      'fade-out',
      'play',
      'url',
      'copy',
      'download',
      'player',
    ]) {
      expect(response.body).toContain(`id="${id}"`);
    }
    // No external assets: nothing is loaded from another origin.
    expect(response.body).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('serves wavesurfer.js and its regions plugin as the npm package has them, with the hash the page names', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    const scripts = [...page.body.matchAll(/<script src="([^"]+)" integrity="sha256-([^"]+)"><\/script>/g)];
    expect(scripts.map(([, src]) => src)).toEqual(['/assets/wavesurfer.min.js', '/assets/regions.min.js']);
    for (const [, src = '', digest] of scripts) {
      const file = await app.inject({ method: 'GET', url: src });
      expect(file.statusCode).toBe(200);
      expect(file.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(createHash('sha256').update(file.rawPayload).digest('base64')).toBe(digest);
      const again = await app.inject({ method: 'GET', url: src, headers: { 'if-none-match': String(file.headers.etag) } });
      expect(again.statusCode).toBe(304);
    }
    expect((await app.inject({ method: 'GET', url: '/assets/wavesurfer.js' })).statusCode).toBe(404);
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
          samplesPerFrame: 1152,
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
