// The peaks endpoint on the real stack (Redis, worker processes running ffmpeg, API, nginx): the numbers
// equal an independent computation from a decoder that is not the service's (mpg123 to PCM, binned here),
// for mono and stereo sources, 8 and 16 bits, at several resolutions; plus the contract around them
// (errors, canonical URL, caching, a replaced source).
import { copyFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePcm } from '../helpers/decoders.js';
import { eventually, getBytes, startExtraApi, startTestStack, type TestStack } from '../helpers/test-stack.js';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { corpus: true, longSource: 'long/hour' });
});
afterAll(async () => {
  await stack?.stop();
});

interface WaveformJson {
  version: number;
  channels: number;
  sample_rate: number;
  samples_per_pixel: number;
  bits: number;
  length: number;
  data: number[];
}

/** The oracle: min/max per bin of mpg123's PCM (interleaved), written here without the service's code. */
function oraclePeaks(pcm: Int16Array, channels: number, samplesPerPixel: number, bits: 8 | 16): number[] {
  const frames = pcm.length / channels;
  const out: number[] = [];
  // audiowaveform's 8 bits: C++ `short / 256`, which truncates toward zero.
  const scale = (value: number) => (bits === 8 ? Math.trunc(value / 256) + 0 : value);
  for (let first = 0; first < frames; first += samplesPerPixel) {
    const last = Math.min(frames, first + samplesPerPixel);
    for (let c = 0; c < channels; c += 1) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let f = first; f < last; f += 1) {
        const value = pcm[f * channels + c]!;
        if (value < min) min = value;
        if (value > max) max = value;
      }
      out.push(scale(min), scale(max));
    }
  }
  return out;
}

const pcmOf = new Map<string, Promise<Int16Array>>();
function mpg123Pcm(source: string): Promise<Int16Array> {
  let pcm = pcmOf.get(source);
  if (!pcm) {
    pcm = decodePcm(path.join(stack.config.mediaRoot, `${source}.mp3`), 'mpg123').then(({ parts }) => parts[0]!);
    pcmOf.set(source, pcm);
  }
  return pcm;
}

async function peaksJson(url: string): Promise<{ response: Response; json: WaveformJson }> {
  const { response, body } = await getBytes(url);
  expect(response.status, body.toString()).toBe(200);
  return { response, json: JSON.parse(body.toString()) as WaveformJson };
}

/**
 * mpg123 and ffmpeg's float decoder round some samples to 16 bits differently: by 1 LSB at most, on 0.4 % of
 * samples (measured on demo/tones: 33,464 of 7,938,000; docs/api.md's Accuracy table says the same of cuts).
 * Where that sample is a bin's extreme, the bin's min or max differs by 1: for 2.5 % of values at 32768
 * samples per pixel on demo/tones (extremes are loud samples, where the two round apart more often), 0.5 %
 * at 256. At 8 bits such a difference shows only where it crosses a multiple of 256. So: every value within
 * 1, the same length to the pixel, and at least 90 % of values exact at 16 bits, 99 % at 8 bits (a wrong
 * rounding to 8 bits, such as floor for trunc, puts half the minimums off by one; a wrong bin, far more).
 */
const TOLERANCE = 1;
const mostExact = (bits: 8 | 16) => (bits === 8 ? 0.99 : 0.9);

function expectMatchesOracle(data: number[], expected: number[], bits: 8 | 16): void {
  expect(data).toHaveLength(expected.length);
  let worst = 0;
  let exact = 0;
  data.forEach((value, i) => {
    const difference = Math.abs(value - expected[i]!);
    worst = Math.max(worst, difference);
    if (difference === 0) exact += 1;
  });
  expect(worst).toBeLessThanOrEqual(TOLERANCE);
  expect(exact / expected.length).toBeGreaterThanOrEqual(mostExact(bits));
}

const SOURCES = [
  { source: 'demo/tones', channels: 2, sampleRate: 44_100 },
  { source: 'demo/chirp', channels: 2, sampleRate: 48_000 },
  { source: 'corpus/vbr-22k-q6-mono', channels: 1, sampleRate: 22_050 },
  { source: 'corpus/mpeg25-8k-8-mono', channels: 1, sampleRate: 8_000 },
  // No Xing/LAME tag: neither decoder trims anything.
  { source: 'corpus/cbr-32k-64-mono-noxing', channels: 1, sampleRate: 32_000 },
  { source: 'corpus/mpeg2-22k-64-stereo', channels: 2, sampleRate: 22_050 },
];

describe('peaks equal an independent decode (mpg123) binned in the test', () => {
  const cases = SOURCES.flatMap((source) =>
    [256, 1024, 32_768].flatMap((samplesPerPixel) => ([8, 16] as const).map((bits) => ({ ...source, samplesPerPixel, bits }))),
  );
  it.each(cases)(
    '$source ($channels ch) at $samplesPerPixel samples per pixel, $bits bits',
    async ({ source, channels, sampleRate, samplesPerPixel, bits }) => {
      const query = [samplesPerPixel !== 256 ? `samples_per_pixel=${samplesPerPixel}` : '', bits !== 8 ? `bits=${bits}` : '']
        .filter(Boolean)
        .join('&');
      const { json } = await peaksJson(`${stack.url}/sources/${source}/peaks.json${query ? `?${query}` : ''}`);
      const expected = oraclePeaks(await mpg123Pcm(source), channels, samplesPerPixel, bits);
      expect({ ...json, data: undefined }).toEqual({
        version: 2,
        channels,
        sample_rate: sampleRate,
        samples_per_pixel: samplesPerPixel,
        bits,
        length: expected.length / channels / 2,
        data: undefined,
      });
      expectMatchesOracle(json.data, expected, bits);
    },
  );

  it('.dat carries the same numbers as .json, in the binary version 2', async () => {
    const { json } = await peaksJson(`${stack.url}/sources/demo/tones/peaks.json?samples_per_pixel=1024&bits=16`);
    const { response, body } = await getBytes(`${stack.url}/sources/demo/tones/peaks.dat?samples_per_pixel=1024&bits=16`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect([
      body.readInt32LE(0),
      body.readUInt32LE(4),
      body.readInt32LE(8),
      body.readInt32LE(12),
      body.readUInt32LE(16),
      body.readInt32LE(20),
    ]).toEqual([2, 0, 44_100, 1024, json.length, 2]);
    const values = Array.from({ length: (body.length - 24) / 2 }, (_, i) => body.readInt16LE(24 + 2 * i));
    expect(values).toEqual(json.data);
    const eight = await getBytes(`${stack.url}/sources/demo/tones/peaks.dat?samples_per_pixel=1024`);
    expect(eight.body.readUInt32LE(4)).toBe(1);
    expect(Array.from(eight.body.subarray(24), (byte) => (byte << 24) >> 24)).toEqual(
      json.data.map((value) => Math.trunc(value / 256) + 0),
    );
  });
});

describe('the peaks contract', () => {
  it('a second request is an nginx HIT with the same ETag; a client holding it gets 304', async () => {
    const url = `${stack.url}/sources/demo/talk/peaks.json?samples_per_pixel=2048`;
    const first = await peaksJson(url);
    const etag = first.response.headers.get('etag');
    expect(etag).toMatch(/^"peaks-[0-9a-f]{24}-[0-9a-f]{16}-2048-8-json"$/);
    expect(first.response.headers.get('cache-control')).toBe('public, max-age=60');
    const second = await peaksJson(url);
    expect(second.response.headers.get('x-cache-status')).toBe('HIT');
    expect(second.response.headers.get('etag')).toBe(etag);
    expect(second.json).toEqual(first.json);
    const revalidated = await getBytes(`${stack.apiUrl}/sources/demo/talk/peaks.json?samples_per_pixel=2048`, {
      headers: { 'if-none-match': etag! },
    });
    expect(revalidated.response.status).toBe(304);
  });

  it.each([
    ['/sources/demo/tones/peaks.json?samples_per_pixel=300', 400],
    ['/sources/demo/tones/peaks.json?bits=12', 400],
    ['/sources/demo/tones/peaks.json?zoom=2', 400],
    ['/sources/demo/nothing-here/peaks.json', 404],
    ['/sources/bad/not-audio/peaks.json', 422],
    ['/sources/bad/empty/peaks.dat', 422],
  ])('%s is %i problem+json, never cached', async (url, status) => {
    const { response, body } = await getBytes(`${stack.url}${url}`);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(JSON.parse(body.toString()).status).toBe(status);
  });

  it("an hour's peaks not ready within WAIT_TIMEOUT_MS: 202 + Location + Retry-After, never cached, then the peaks at that Location", async () => {
    const short = await startExtraApi(stack, { WAIT_TIMEOUT_MS: '300' });
    try {
      const first = await getBytes(`${short.url}/sources/long/hour/peaks.json?samples_per_pixel=32768`);
      expect(first.response.status).toBe(202);
      const location = first.response.headers.get('location');
      expect(location).toBe('/sources/long/hour/peaks.json?samples_per_pixel=32768');
      expect(Number(first.response.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(first.response.headers.get('cache-control')).toBe('no-store');
      expect(JSON.parse(first.body.toString())).toMatchObject({ status: 'computing', location });
      // The job went on: the same Location answers the peaks once it is done, the whole hour of them.
      const done = await eventually(
        async () => {
          const { response, body } = await getBytes(short.url + location);
          return response.status === 200 ? (JSON.parse(body.toString()) as WaveformJson) : undefined;
        },
        "the hour's peaks",
        60_000,
      );
      const { durationSeconds } = (await (await fetch(`${short.url}/sources/long/hour`)).json()) as { durationSeconds: number };
      expect(done).toMatchObject({ version: 2, channels: 2, sample_rate: 44_100, samples_per_pixel: 32_768 });
      // durationSeconds is to the millisecond: 44 samples either way, far from a 32,768-sample bin edge here.
      expect(done.length).toBe(Math.ceil((durationSeconds * 44_100) / 32_768));
    } finally {
      await short.stop();
    }
  });

  it('another spelling answers 308 to the canonical URL (defaults left out)', async () => {
    const { response } = await getBytes(`${stack.url}/sources/demo/tones/peaks.json?bits=8&samples_per_pixel=256`);
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe('/sources/demo/tones/peaks.json');
    const reordered = await getBytes(`${stack.url}/sources/demo/tones/peaks.json?bits=16&samples_per_pixel=512`);
    expect(reordered.response.headers.get('location')).toBe('/sources/demo/tones/peaks.json?samples_per_pixel=512&bits=16');
  });
});

describe('a replaced source', () => {
  it('gets new peaks under a new ETag once its file changes, straight away at the API', async () => {
    const media = stack.config.mediaRoot;
    const swapped = path.join(media, 'swap.mp3');
    await copyFile(path.join(media, 'corpus', 'vbr-22k-q6-mono.mp3'), swapped);
    const before = await peaksJson(`${stack.apiUrl}/sources/swap/peaks.json`);
    expect(before.json.channels).toBe(1);
    await copyFile(path.join(media, 'demo', 'chirp.mp3'), swapped);
    // A replaced file is seen within the catalog's second (RESOLVE_TTL_MS); a later mtime makes sure it differs.
    const later = new Date(Date.now() + 5_000);
    await utimes(swapped, later, later);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const after = await peaksJson(`${stack.apiUrl}/sources/swap/peaks.json`);
    expect(after.response.headers.get('etag')).not.toBe(before.response.headers.get('etag'));
    expect(after.json).toMatchObject({ channels: 2, sample_rate: 48_000 });
    expectMatchesOracle(after.json.data, oraclePeaks((await decodePcm(swapped, 'mpg123')).parts[0]!, 2, 256, 8), 8);
  });
});
