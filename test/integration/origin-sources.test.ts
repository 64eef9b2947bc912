// Sources from an HTTP origin (issue 17): the real stack with MEDIA_ORIGIN set to an nginx on loopback
// that serves a media folder. Segments from the origin are the bytes the same segments have from
// MEDIA_ROOT; a replaced object is seen; the origin's faults are 503 + Retry-After, never remembered as a
// 422; a redirect is not followed; no source path reaches outside the prefix; and a 30 s copy or exact
// render of an hour reads from the origin about the clip's bytes, counted in the origin's own access log
// ($body_bytes_sent).
import { copyFile, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalRenderer } from '../../src/cli/local-render.js';
import { parseConfig, PROJECT_ROOT } from '../../src/config.js';
import { parseRenderOptions } from '../../src/segments/render-options.js';
import { type OriginNginx, startOriginNginx } from '../helpers/origin-nginx.js';
import { getBytes, makeLongSource, rawGet, startTestStack, type TestStack } from '../helpers/test-stack.js';

let root: string;
let origin: OriginNginx;
let t: TestStack;
const logs: string[] = [];
/** The hour-long source's length (fixtures/make-long-source.sh: 61 one-minute chunks, each with LAME's delay and padding). */
let longSourceSeconds: number;
/** What the index build of the hour-long source fetched, and how long the first answer took. */
let indexBuild: { bytes: number; requests: number; ms: number; sourceBytes: number };

const LONG_TAGGED_TITLE = 'An hour with ID3v1';

/** A 128-byte ID3v1 tag with this title. */
function id3v1Tag(title: string): Buffer {
  const tag = Buffer.alloc(128);
  tag.write('TAG', 0, 'latin1');
  tag.write(title, 3, 30, 'latin1');
  tag[127] = 0xff; // no genre
  return tag;
}

/** Origin requests (and their body bytes) made while `during` ran. */
async function fetchedDuring<T>(
  during: () => Promise<T>,
): Promise<{ value: T; bytes: number; requests: Array<{ method: string; path: string; bytes: number }> }> {
  const before = (await origin.requests()).length;
  const value = await during();
  const requests = (await origin.requests()).slice(before);
  return { value, bytes: requests.reduce((sum, request) => sum + request.bytes, 0), requests };
}

/** The same segment rendered from MEDIA_ROOT by the worker's own steps (cli/local-render.ts). */
async function fromMediaRoot(source: string[], startMs: number, endMs: number, query: Record<string, string> = {}): Promise<Buffer> {
  const renderer = await createLocalRenderer(
    parseConfig({ MEDIA_ROOT: path.join(root, 'media'), DATA_DIR: path.join(root, 'local-data') }),
  );
  const { source: facts, plan } = await renderer.plan({ source, startMs, endMs, options: parseRenderOptions(query), download: false });
  const file = path.join(root, `local-${plan.key}.mp3`);
  await renderer.render(facts, plan, file);
  return readFile(file);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-origin-'));
  const media = path.join(root, 'media');
  await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(media, 'demo'), { recursive: true });
  await mkdir(path.join(media, 'bad'), { recursive: true });
  await writeFile(path.join(media, 'bad', 'not-audio.mp3'), 'This is a text file wearing an .mp3 name.\n'.repeat(50));
  await copyFile(path.join(media, 'demo', 'talk.mp3'), path.join(media, 'swap.mp3'));
  await makeLongSource(path.join(media, 'long.mp3'));
  // The hour again, with an ID3v1 tag after its frames (ffmpeg reads it only from the end of a whole file).
  await writeFile(
    path.join(media, 'long-tagged.mp3'),
    Buffer.concat([await readFile(path.join(media, 'long.mp3')), id3v1Tag(LONG_TAGGED_TITLE)]),
  );
  // Beside the prefix, not under it: no request may ever reach it.
  await copyFile(path.join(media, 'demo', 'tones.mp3'), path.join(root, 'secret.mp3'));
  origin = await startOriginNginx(root, logs);
  // An empty MEDIA_ROOT: a source read from anywhere but the origin would be missing.
  await mkdir(path.join(root, 'empty-root'));
  t = await startTestStack({
    MEDIA_ROOT: path.join(root, 'empty-root'),
    MEDIA_ORIGIN: origin.url,
    ORIGIN_TIMEOUT_MS: '1000',
    ORIGIN_RETRIES: '1',
    WAIT_TIMEOUT_MS: '60000',
  });
  const started = performance.now();
  const built = await fetchedDuring(() => fetch(`${t.apiUrl}/sources/long`));
  expect(built.value.status).toBe(200);
  longSourceSeconds = ((await built.value.json()) as { durationSeconds: number }).durationSeconds;
  indexBuild = {
    bytes: built.bytes,
    requests: built.requests.length,
    ms: Math.round(performance.now() - started),
    sourceBytes: (await stat(path.join(media, 'long.mp3'))).size,
  };
}, 180_000);

afterAll(async () => {
  await t?.stop();
  await origin?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('sources from an HTTP origin', () => {
  it('the index of an hour-long source is built once by streaming it: its bytes read once, a MiB a request', () => {
    console.log(
      `index build of the hour: ${indexBuild.bytes} bytes from the origin in ${indexBuild.requests} requests, ${indexBuild.ms} ms (source ${indexBuild.sourceBytes} bytes)`,
    );
    expect(indexBuild.bytes).toBeGreaterThanOrEqual(indexBuild.sourceBytes * 0.99);
    expect(indexBuild.bytes).toBeLessThanOrEqual(indexBuild.sourceBytes * 1.01);
  });

  it('a 30 s copy of the hour reads from the origin at most 1.2 x the segment plus its priming frames', async () => {
    const cut = await fetchedDuring(() => getBytes(`${t.apiUrl}/segments/long/1800-1830.mp3`));
    expect(cut.value.response.status).toBe(200);
    const segmentBytes = cut.value.body.length;
    // The frames before the first that a sample cut reads for the bit reservoir: at most a few frames.
    const primingBytes = 10 * 418;
    console.log(
      `30 s copy of the hour: ${cut.bytes} bytes fetched from the origin in ${cut.requests.length} requests for a ${segmentBytes}-byte segment (${(cut.bytes / segmentBytes).toFixed(3)} x)`,
    );
    expect(cut.bytes).toBeLessThanOrEqual(1.2 * segmentBytes + primingBytes);
    // No whole-object GET: every read was a Range (206), plus HEADs without a body.
    for (const request of cut.requests) expect(request.method === 'HEAD' || request.bytes < 1_000_000, request.path).toBe(true);
    expect(cut.value.body.equals(await fromMediaRoot(['long'], 1_800_000, 1_830_000))).toBe(true);
  });

  it('a 30 s exact render of the hour reads from the origin at most 1.2 x the source bytes of the clip plus its priming frames', async () => {
    const started = performance.now();
    const exact = await fetchedDuring(() => getBytes(`${t.apiUrl}/segments/long/1800-1830.mp3?mode=exact`));
    const ms = Math.round(performance.now() - started);
    expect(exact.value.response.status).toBe(200);
    // The source's bytes for 30 s, from its size and length alone (CBR: the same for every 30 s).
    const clipBytes = (indexBuild.sourceBytes * 30) / longSourceSeconds;
    // The frames before the first that prime the decoder (reservoir, overlap): a few 418-byte frames.
    const primingBytes = 10 * 418;
    console.log(
      `30 s exact render of the hour: ${exact.bytes} bytes fetched from the origin in ${exact.requests.length} requests, ${ms} ms (${(exact.bytes / clipBytes).toFixed(3)} x the clip's ${Math.round(clipBytes)} source bytes)`,
    );
    expect(exact.bytes).toBeLessThanOrEqual(1.2 * clipBytes + primingBytes);
    for (const request of exact.requests) expect(request.method === 'HEAD' || request.bytes < 1_000_000, request.path).toBe(true);
    expect(exact.value.body.equals(await fromMediaRoot(['long'], 1_800_000, 1_830_000, { mode: 'exact' }))).toBe(true);
  });

  it('a 30 s exact render of the hour with an ID3v1 tag reads the clip as well, plus its tags file (the tag and two frames), and keeps its tags', async () => {
    const sourceBytes = indexBuild.sourceBytes + 128;
    // Its index first, built once by streaming the whole object (as above), not part of the render's reads.
    expect((await fetch(`${t.apiUrl}/sources/long-tagged`)).status).toBe(200);
    const exact = await fetchedDuring(() => getBytes(`${t.apiUrl}/segments/long-tagged/1800-1830.mp3?mode=exact`));
    expect(exact.value.response.status).toBe(200);
    const clipBytes = (sourceBytes * 30) / longSourceSeconds;
    const primingBytes = 10 * 418;
    // The tags file: the Info frame and two 418-byte frames (fixtures/make-long-source.sh: no ID3v2), then the tag.
    const tagsFileBytes = 3 * 418 + 128;
    console.log(
      `30 s exact render of the hour with ID3v1: ${exact.bytes} bytes fetched from the origin in ${exact.requests.length} requests (${(exact.bytes / clipBytes).toFixed(3)} x the clip's ${Math.round(clipBytes)} source bytes; its tags file ${tagsFileBytes} bytes)`,
    );
    expect(exact.bytes).toBeLessThanOrEqual(1.2 * clipBytes + primingBytes + tagsFileBytes);
    for (const request of exact.requests) expect(request.method === 'HEAD' || request.bytes < 1_000_000, request.path).toBe(true);
    // ID3v1's title, written by ffmpeg into the render's ID3v2 tag (TIT2), as from MEDIA_ROOT.
    expect(exact.value.body.subarray(0, 200).includes(Buffer.from(LONG_TAGGED_TITLE, 'latin1'))).toBe(true);
    expect(exact.value.body.equals(await fromMediaRoot(['long-tagged'], 1_800_000, 1_830_000, { mode: 'exact' }))).toBe(true);
  });

  it('copy and exact segments from the origin are the bytes the same segments have from MEDIA_ROOT', async () => {
    for (const [url, source, startMs, endMs, query] of [
      ['/segments/demo/talk/2.5-9.mp3', ['demo', 'talk'], 2_500, 9_000, {}],
      ['/segments/demo/tones/10-20.25.mp3', ['demo', 'tones'], 10_000, 20_250, {}],
      ['/segments/demo/chirp/1-4.mp3?mode=exact&bitrate=64', ['demo', 'chirp'], 1_000, 4_000, { mode: 'exact', bitrate: '64' }],
      ['/segments/demo/talk/3-6.5.mp3?mode=exact&fade_in=0.5', ['demo', 'talk'], 3_000, 6_500, { mode: 'exact', fade_in: '0.5' }],
    ] as const) {
      const served = await getBytes(`${t.url}${url}`);
      expect(served.response.status, `${url}: ${served.body.toString().slice(0, 300)}\n${t.logs.slice(-6).join('\n')}`).toBe(200);
      expect(served.body.equals(await fromMediaRoot([...source], startMs, endMs, { ...query })), url).toBe(true);
    }
  });

  it("a source's peaks are computed from the origin (ffmpeg decodes it over HTTP)", async () => {
    const served = await getBytes(`${t.apiUrl}/sources/demo/tones/peaks.json?samples_per_pixel=1024&bits=16`);
    expect(served.response.status, served.body.toString()).toBe(200);
    const facts = (await (await fetch(`${t.apiUrl}/sources/demo/tones`)).json()) as { sampleRate: number; durationSeconds: number };
    const peaks = JSON.parse(served.body.toString()) as { length: number; data: number[] };
    // One pixel per 1024 samples of the whole source: it was decoded to its end.
    expect(Math.abs(peaks.length - (facts.durationSeconds * facts.sampleRate) / 1024)).toBeLessThanOrEqual(2);
    expect(peaks.data.some((value) => value !== 0)).toBe(true);
  });

  it('a replaced object (a new ETag) gives a new render, of the new bytes', async () => {
    const first = await getBytes(`${t.apiUrl}/segments/swap/1-3.mp3`);
    expect(first.response.status).toBe(200);
    await copyFile(path.join(root, 'media', 'demo', 'tones.mp3'), path.join(root, 'media', 'swap.mp3'));
    // The API trusts a look-up for a second (catalog.ts RESOLVE_TTL_MS).
    await new Promise((wake) => setTimeout(wake, 1_100));
    const second = await getBytes(`${t.apiUrl}/segments/swap/1-3.mp3`);
    expect(second.response.status).toBe(200);
    expect(second.response.headers.get('etag')).not.toBe(first.response.headers.get('etag'));
    expect(second.body.equals(await fromMediaRoot(['swap'], 1_000, 3_000))).toBe(true);
    expect(second.body.equals(first.body)).toBe(false);
  });

  it('an origin that answers 500 or stalls gives 503 with Retry-After, again on a retry (never a 422)', async () => {
    for (const fault of ['500', 'stall']) {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const answer = await getBytes(`${t.apiUrl}/segments/faults/${fault}/show/0-5.mp3`);
        expect(answer.response.status, `${fault}: ${answer.body.toString()}`).toBe(503);
        expect(Number(answer.response.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    }
  });

  it('a redirect from the origin is not followed', async () => {
    const answer = await getBytes(`${t.apiUrl}/segments/faults/redirect/show/0-5.mp3`);
    expect(answer.response.status).toBe(503);
    expect(answer.body.toString()).toMatch(/redirected/);
    expect((await origin.requests()).some((request) => request.path === '/secret.mp3')).toBe(false);
  });

  it('no source path reaches outside the prefix', async () => {
    for (const raw of ['/segments/%2e%2e/secret/0-5.mp3', '/segments/..%2Fsecret/0-5.mp3', '/segments/%2E%2E/%2E%2E/secret/0-5.mp3']) {
      const answer = await rawGet(t.apiUrl, raw);
      expect([400, 404], raw).toContain(answer.status);
    }
    const outside = (await origin.requests()).filter((request) => !request.path.startsWith('/media/') && request.path !== '/');
    expect(outside).toEqual([]);
  });

  it('lists no sources: plain HTTP has no listing', async () => {
    const listing = (await (await fetch(`${t.apiUrl}/sources`)).json()) as { sources: unknown[] };
    expect(listing.sources).toEqual([]);
  });

  it('an object the origin lacks is 404; one that is not MP3 is 422', async () => {
    expect((await getBytes(`${t.apiUrl}/segments/nowhere/0-5.mp3`)).response.status).toBe(404);
    expect((await getBytes(`${t.apiUrl}/segments/bad/not-audio/0-5.mp3`)).response.status).toBe(422);
  });
});
