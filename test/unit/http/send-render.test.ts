// The answer for a stored render (src/http/send-render.ts): 200, 206, 304, 416, HEAD, ETag and
// Content-Disposition, on a small Fastify app whose one route sends a render published in a real temp store
// and opened by the real reader, once from its memory copy and once streamed from the store's file.
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';
import { handleErrors } from '../../../src/http/problem-handler.js';
import { sendRender } from '../../../src/http/send-render.js';
import { createHotRenders } from '../../../src/store/hot-renders.js';
import { createRenderReader } from '../../../src/store/render-reader.js';
import { createRenderStore, type RenderStore } from '../../../src/store/render-store.js';

const KEY = '0123456789abcdef0123456789abcdef';
const ETAG = `"${KEY}"`;
const FILE_NAME = 'Café — Ep. (1)_10-20.mp3';

let dir: string;
let store: RenderStore;
let bytes: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-send-'));
  store = createRenderStore({ dir });
  // Any bytes will do for the answer; these are an MP3's first 5000.
  bytes = (await readFile(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo', 'tones.mp3'))).subarray(0, 5_000);
  const temp = await store.tempPathFor(KEY);
  await writeFile(temp, bytes);
  await store.publish(temp, {
    key: KEY,
    source: 'demo/tones',
    startMs: 10_000,
    endMs: 20_000,
    mode: 'copy',
    options: { mode: 'copy' },
    bytes: bytes.length,
    durationSeconds: 10,
    renderedAt: new Date().toISOString(),
  });
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** File descriptors of this process open on the render's store file. */
async function openOnStoreFile(): Promise<number> {
  const target = store.pathOf(KEY);
  const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return links.filter((link) => link === target).length;
}

describe.each([
  { origin: 'from its memory copy', hotMaxBytes: 1024 * 1024 },
  { origin: "streamed from the store's file", hotMaxBytes: 0 },
])('a render sent $origin', ({ hotMaxBytes }) => {
  let app: FastifyInstance;

  beforeAll(async () => {
    const reader = createRenderReader({
      store,
      hot: createHotRenders({ maxBytes: hotMaxBytes, maxEntryBytes: hotMaxBytes, storeTouchEveryMs: 1_000 }),
    });
    app = Fastify();
    handleErrors(app);
    app.route<{ Querystring: { download?: string } }>({
      method: ['GET', 'HEAD'],
      url: '/render',
      exposeHeadRoute: false,
      async handler(request, reply) {
        const body = await reader.open(KEY);
        if (!body) throw new Error('the render is not in the store');
        return sendRender(request, reply, body, {
          key: KEY,
          fileName: FILE_NAME,
          download: request.query.download === '1',
          cacheMaxAgeSeconds: 600,
        });
      },
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('is 200 with the whole body, its length, type, ETag and caching headers', async () => {
    const response = await app.inject({ url: '/render' });
    expect(response.statusCode).toBe(200);
    expect(response.headers).toMatchObject({
      'content-type': 'audio/mpeg',
      'content-length': String(bytes.length),
      'accept-ranges': 'bytes',
      etag: ETAG,
      'cache-control': 'public, max-age=600',
    });
    expect(response.rawPayload.equals(bytes)).toBe(true);
  });

  it('Range: bytes=0-99 is 206 with Content-Range and the first 100 bytes', async () => {
    const response = await app.inject({ url: '/render', headers: { range: 'bytes=0-99' } });
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-range']).toBe(`bytes 0-99/${bytes.length}`);
    expect(response.headers['content-length']).toBe('100');
    expect(response.rawPayload.equals(bytes.subarray(0, 100))).toBe(true);
  });

  it('a suffix range (bytes=-10) is 206 with the last 10 bytes', async () => {
    const response = await app.inject({ url: '/render', headers: { range: 'bytes=-10' } });
    expect(response.statusCode).toBe(206);
    expect(response.headers['content-range']).toBe(`bytes ${bytes.length - 10}-${bytes.length - 1}/${bytes.length}`);
    expect(response.headers['content-length']).toBe('10');
    expect(response.rawPayload.equals(bytes.subarray(-10))).toBe(true);
  });

  it('a range past the end is 416 problem+json with Content-Range: bytes */size', async () => {
    const response = await app.inject({ url: '/render', headers: { range: `bytes=${bytes.length}-` } });
    expect(response.statusCode).toBe(416);
    expect(response.headers['content-range']).toBe(`bytes */${bytes.length}`);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ status: 416 });
  });

  it('HEAD is answered with the headers, Content-Length included, and no body', async () => {
    const response = await app.inject({ method: 'HEAD', url: '/render' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe(String(bytes.length));
    expect(response.headers.etag).toBe(ETAG);
    expect(response.rawPayload.length).toBe(0);
  });

  it('If-None-Match naming the ETag is 304 with the ETag and no body', async () => {
    for (const ifNoneMatch of [ETAG, `W/${ETAG}`, `"another", ${ETAG}`, '*']) {
      const response = await app.inject({ url: '/render', headers: { 'if-none-match': ifNoneMatch } });
      expect(response.statusCode, ifNoneMatch).toBe(304);
      expect(response.headers.etag).toBe(ETAG);
      expect(response.headers['content-type']).toBeUndefined();
      expect(response.rawPayload.length).toBe(0);
    }
    const other = await app.inject({ url: '/render', headers: { 'if-none-match': '"another"' } });
    expect(other.statusCode).toBe(200);
  });

  it('If-Range with another ETag is 200 with the whole body; with this ETag the range is honoured', async () => {
    const stale = await app.inject({ url: '/render', headers: { range: 'bytes=0-99', 'if-range': '"another"' } });
    expect(stale.statusCode).toBe(200);
    expect(stale.headers['content-range']).toBeUndefined();
    expect(stale.rawPayload.equals(bytes)).toBe(true);
    const current = await app.inject({ url: '/render', headers: { range: 'bytes=0-99', 'if-range': ETAG } });
    expect(current.statusCode).toBe(206);
  });

  it('Content-Disposition is inline, or attachment when downloaded, with an ASCII fallback and the UTF-8 name', async () => {
    const names = `filename="Caf_ _ Ep. (1)_10-20.mp3"; filename*=UTF-8''Caf%C3%A9%20%E2%80%94%20Ep.%20%281%29_10-20.mp3`;
    expect((await app.inject({ url: '/render' })).headers['content-disposition']).toBe(`inline; ${names}`);
    expect((await app.inject({ url: '/render?download=1' })).headers['content-disposition']).toBe(`attachment; ${names}`);
  });

  it('HEAD, 304 and 416 leave no file of the store open', async () => {
    await app.inject({ method: 'HEAD', url: '/render' });
    await app.inject({ url: '/render', headers: { 'if-none-match': ETAG } });
    await app.inject({ url: '/render', headers: { range: `bytes=${bytes.length}-` } });
    expect(await openOnStoreFile()).toBe(0);
  });
});
