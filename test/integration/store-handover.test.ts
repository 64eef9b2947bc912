// A stored render asked through nginx is handed to nginx (X-Accel-Redirect to its internal /_store/): the
// same bytes and headers as the API's own answer, with no byte from the API; a file gone behind the
// decision is answered again by the API, never a 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nginxCacheDir, storeDir } from '../../src/data-layout.js';
import { getBytes, startTestStack, type TestStack } from '../helpers/test-stack.js';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(async () => {
  await t?.stop();
});

const segment = '/segments/demo/tones/40-45.mp3';
const sameHeaders = ['content-type', 'etag', 'cache-control', 'content-disposition', 'x-cut', 'accept-ranges', 'content-length'];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => entry.name);
}

describe('a stored render through nginx', () => {
  it('is sent by nginx from the store with the API answer’s bytes and headers, then is an nginx HIT', async () => {
    const direct = await getBytes(t.apiUrl + segment);
    expect(direct.response.status).toBe(200);
    const front = await getBytes(t.url + segment);
    expect(front.response.status).toBe(200);
    expect(front.body.equals(direct.body)).toBe(true);
    for (const name of sameHeaders) expect([name, front.response.headers.get(name)]).toEqual([name, direct.response.headers.get(name)]);
    expect(front.response.headers.get('last-modified')).toBeNull();
    expect(front.response.headers.get('x-accel-redirect')).toBeNull();
    expect(front.response.headers.get('x-cache-status')).toBe('MISS');
    // nginx filled its cache from the store's file: the next answer is a HIT, with the same bytes and headers.
    expect(await filesUnder(nginxCacheDir(t.config.dataDir))).toHaveLength(1);
    const hit = await getBytes(t.url + segment);
    expect(hit.response.headers.get('x-cache-status')).toBe('HIT');
    expect(hit.body.equals(direct.body)).toBe(true);
    for (const name of sameHeaders) expect([name, hit.response.headers.get(name)]).toEqual([name, direct.response.headers.get(name)]);
    expect(hit.response.headers.get('last-modified')).toBeNull();
  });

  it('reaches the client from the store’s file, not from the API (whose memory copy differs here)', async () => {
    const marked = '/segments/demo/tones/60-65.mp3';
    const direct = await getBytes(t.apiUrl + marked);
    const key = (direct.response.headers.get('etag') ?? '').replaceAll('"', '');
    // Same length (the store serves only a file of its stated size), other bytes: only a read of the file sends them.
    const file = path.join(storeDir(t.config.dataDir), key.slice(0, 2), `${key}.mp3`);
    const fileBytes = Buffer.from(direct.body.map((byte) => byte ^ 0xff));
    await writeFile(file, fileBytes);
    const front = await getBytes(t.url + marked);
    expect(front.response.status).toBe(200);
    expect(front.body.equals(fileBytes)).toBe(true);
    // Straight at the API, its memory copy.
    expect((await getBytes(t.apiUrl + marked)).body.equals(direct.body)).toBe(true);
  });

  it('a miss through nginx is handed over without being read into the API’s memory: a later direct ask reads the file', async () => {
    const fresh = '/segments/demo/tones/70-75.mp3';
    const front = await getBytes(t.url + fresh);
    expect(front.response.status).toBe(200);
    expect(front.response.headers.get('x-cache-status')).toBe('MISS');
    const key = (front.response.headers.get('etag') ?? '').replaceAll('"', '');
    // Same length, other bytes: had the miss been read into the API's memory, the direct ask would get the first ones.
    const fileBytes = Buffer.from(front.body.map((byte) => byte ^ 0xff));
    await writeFile(path.join(storeDir(t.config.dataDir), key.slice(0, 2), `${key}.mp3`), fileBytes);
    expect((await getBytes(t.apiUrl + fresh)).body.equals(fileBytes)).toBe(true);
  });

  it('the API hands it over with no body when asked as nginx asks', async () => {
    const { response, body } = await getBytes(t.apiUrl + segment, { headers: { 'x-accel-store': '1' } });
    const key = (response.headers.get('etag') ?? '').replaceAll('"', '');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-accel-redirect')).toBe(`/_store/${key.slice(0, 2)}/${key}.mp3`);
    expect(body.length).toBe(0);
  });

  it('Range, If-Range, HEAD and If-None-Match are answered right by nginx', async () => {
    const full = (await getBytes(t.apiUrl + segment)).body;
    const etag = (await getBytes(t.url + segment, { method: 'HEAD' })).response.headers.get('etag') ?? '';
    const slice = await getBytes(t.url + segment, { headers: { range: 'bytes=100-999' } });
    expect(slice.response.status).toBe(206);
    expect(slice.response.headers.get('content-range')).toBe(`bytes 100-999/${full.length}`);
    expect(slice.body.equals(full.subarray(100, 1000))).toBe(true);
    const ifRange = await getBytes(t.url + segment, { headers: { range: 'bytes=-500', 'if-range': etag } });
    expect(ifRange.response.status).toBe(206);
    expect(ifRange.body.equals(full.subarray(full.length - 500))).toBe(true);
    const staleIfRange = await getBytes(t.url + segment, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(staleIfRange.response.status).toBe(200);
    expect(staleIfRange.body.equals(full)).toBe(true);
    const head = await getBytes(t.url + segment, { method: 'HEAD' });
    expect(head.response.status).toBe(200);
    expect(Number(head.response.headers.get('content-length'))).toBe(full.length);
    expect(head.body.length).toBe(0);
    const revalidated = await getBytes(t.url + segment, { headers: { 'if-none-match': etag } });
    expect(revalidated.response.status).toBe(304);
    expect(revalidated.response.headers.get('etag')).toBe(etag);
    expect(revalidated.body.length).toBe(0);
  });

  it('whose file is gone behind the API’s decision (held in its memory) is answered again with the bytes', async () => {
    // A segment nginx has never opened: its open_file_cache would still send a removed file it holds open.
    const evicted = '/segments/demo/tones/50-55.mp3';
    const direct = await getBytes(t.apiUrl + evicted);
    const key = (direct.response.headers.get('etag') ?? '').replaceAll('"', '');
    await rm(path.join(storeDir(t.config.dataDir), key.slice(0, 2), `${key}.mp3`));
    const front = await getBytes(t.url + evicted);
    expect(front.response.status).toBe(200);
    expect(front.body.equals(direct.body)).toBe(true);
    for (const name of sameHeaders.filter((name) => name !== 'cache-control'))
      expect([name, front.response.headers.get(name)]).toEqual([name, direct.response.headers.get(name)]);
    // The handover's Cache-Control stays on the second answer beside the API's own (nginx.conf, @render).
    const directives = (response: Response) => new Set(response.headers.get('cache-control')?.split(', '));
    expect(directives(front.response)).toEqual(directives(direct.response));
  });
});
