// The origin client against a real HTTP server on loopback (its answers scripted per test): the URL a
// source maps to, retries, redirects refused, If-Match on reads, and the bound on requests at once.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediaOrigin } from '../../../src/config.js';
import { SourceNotFound, Unavailable } from '../../../src/errors.js';
import { readRange } from '../../../src/media/source-reader.js';
import { createOriginClient } from '../../../src/sources/origin-client.js';

const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));
let answer: (request: http.IncomingMessage, response: http.ServerResponse) => void;
const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }> = [];
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    seen.push({ method: request.method!, url: request.url!, headers: request.headers });
    answer(request, response);
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
});
afterAll(() => new Promise((closed) => server.close(closed)));

const origin = (overrides: Partial<MediaOrigin> = {}): MediaOrigin => ({
  url: base,
  headers: { 'X-Key': 'k1' },
  timeoutMs: 1_000,
  retries: 2,
  maxConcurrent: 4,
  ...overrides,
});

/** A static object: HEAD, and Range GETs of it. */
function serveObject(request: http.IncomingMessage, response: http.ServerResponse) {
  const headers = { 'content-length': String(body.length), etag: '"v1"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT' };
  if (request.method === 'HEAD') return response.writeHead(200, headers).end();
  if (request.headers['if-match'] && request.headers['if-match'] !== '"v1"') return response.writeHead(412).end();
  const [, from, to] = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? '')!;
  const part = body.subarray(Number(from), Number(to) + 1);
  setTimeout(() => response.writeHead(206, { 'content-length': String(part.length) }).end(part), 20);
}

describe('the origin client', () => {
  it("maps a source to a URL under the prefix, each segment encoded, with the operator's headers", async () => {
    answer = serveObject;
    seen.length = 0;
    const resolved = await createOriginClient(origin()).resolve(['a b', 'c%d?e#f']);
    expect(seen[0]).toMatchObject({ method: 'HEAD', url: '/prefix/a%20b/c%25d%3Fe%23f.mp3' });
    expect(seen[0]!.headers['x-key']).toBe('k1');
    expect(resolved).toMatchObject({ size: 4096, validator: '"v1"', mtimeMs: Date.parse('2026-12-01T10:00:00Z') });
  });

  it('reads ranges with If-Match, so a replaced object is never read under an old identity', async () => {
    answer = serveObject;
    const client = createOriginClient(origin());
    const resolved = await client.resolve(['show']);
    const reader = await client.open(resolved);
    expect((await readRange(reader, 100, 300)).equals(body.subarray(100, 300))).toBe(true);
    expect(seen.at(-1)!.headers).toMatchObject({ range: 'bytes=100-299', 'if-match': '"v1"' });
    const stale = await client.open({ ...resolved, validator: '"v0"' });
    await expect(readRange(stale, 0, 10)).rejects.toBeInstanceOf(Unavailable);
    // A weak ETag never matches If-Match (a strong comparison): it is not sent.
    const weak = await client.open({ ...resolved, validator: 'W/"v0"' });
    expect((await readRange(weak, 0, 10)).equals(body.subarray(0, 10))).toBe(true);
    expect(seen.at(-1)!.headers['if-match']).toBeUndefined();
  });

  it('retries a 5xx with backoff and gives up with a 503 after ORIGIN_RETRIES', async () => {
    let failures = 1;
    answer = (request, response) => (failures-- > 0 ? response.writeHead(502).end() : serveObject(request, response));
    await expect(createOriginClient(origin()).resolve(['show'])).resolves.toMatchObject({ size: 4096 });
    answer = (_request, response) => response.writeHead(500).end();
    seen.length = 0;
    await expect(createOriginClient(origin({ retries: 1 })).resolve(['show'])).rejects.toBeInstanceOf(Unavailable);
    expect(seen).toHaveLength(2);
  });

  it('a 404 is no such source, at once; a redirect is refused and never followed', async () => {
    answer = (_request, response) => response.writeHead(404).end();
    seen.length = 0;
    await expect(createOriginClient(origin()).resolve(['gone'])).rejects.toBeInstanceOf(SourceNotFound);
    expect(seen).toHaveLength(1);
    answer = (request, response) =>
      request.url === '/elsewhere.mp3'
        ? serveObject(request, response)
        : response.writeHead(302, { location: '/elsewhere.mp3', 'content-length': '0', etag: '"r"' }).end();
    seen.length = 0;
    const refused = createOriginClient(origin()).resolve(['moved']);
    await expect(refused).rejects.toBeInstanceOf(Unavailable);
    await expect(refused).rejects.toThrow(/redirected/);
    expect(seen.map((request) => request.url)).toEqual(['/prefix/moved.mp3']);
  });

  it('an origin that ignores Range (200 with the whole object) is refused', async () => {
    answer = (_request, response) => response.writeHead(200, { 'content-length': String(body.length) }).end(body);
    const reader = await createOriginClient(origin()).open({ file: `${base}/show.mp3`, size: body.length });
    await expect(readRange(reader, 0, 10)).rejects.toThrow(/ignored a Range/);
  });

  it('a body cut short is a passing fault, tried again', async () => {
    let cuts = 1;
    answer = (request, response) => {
      if (request.method === 'GET' && cuts-- > 0) {
        response.writeHead(206, { 'content-length': '50' }).write(body.subarray(0, 10));
        setTimeout(() => response.destroy(), 10);
        return;
      }
      serveObject(request, response);
    };
    const reader = await createOriginClient(origin()).open({ file: `${base}/show.mp3`, size: body.length });
    expect((await readRange(reader, 0, 50)).equals(body.subarray(0, 50))).toBe(true);
  });

  it('a stalled origin fails after its timeout, as a 503', async () => {
    answer = () => undefined; // never answers
    const started = performance.now();
    await expect(createOriginClient(origin({ timeoutMs: 200, retries: 0 })).resolve(['stall'])).rejects.toBeInstanceOf(Unavailable);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('holds at most ORIGIN_MAX_CONCURRENT requests at once', async () => {
    let active = 0;
    let most = 0;
    answer = (request, response) => {
      active += 1;
      most = Math.max(most, active);
      response.on('finish', () => {
        active -= 1;
      });
      serveObject(request, response);
    };
    const client = createOriginClient(origin({ maxConcurrent: 3 }));
    const reader = await client.open({ file: `${base}/show.mp3`, size: body.length });
    await Promise.all(Array.from({ length: 20 }, (_, i) => readRange(reader, i * 100, i * 100 + 50)));
    expect(most).toBe(3);
  });
});

describe('the origin client, by a name that moves', () => {
  /** A second server on 127.0.0.2 at the first one's port: the same origin URL, another address. */
  let moved: http.Server;
  const movedSeen: string[] = [];
  beforeAll(async () => {
    moved = http.createServer((request, response) => {
      movedSeen.push(request.method!);
      serveObject(request, response);
    });
    await new Promise<void>((listening) => moved.listen(Number(new URL(base).port), '127.0.0.2', listening));
  });
  afterAll(() => new Promise((closed) => moved.close(closed)));

  /** The origin by a name, answered from a script (the last answer repeats); the lookups are counted. */
  function byName(...addresses: string[]) {
    const asked: string[] = [];
    const lookup = async (name: string) => {
      asked.push(name);
      return { address: addresses.length > 1 ? addresses.shift()! : addresses[0]!, family: 4 };
    };
    return { asked, options: { lookup }, url: base.replace('127.0.0.1', 'origin.test') };
  }

  it('follows the origin to its new address once the pinned one has had its minute', async () => {
    answer = serveObject;
    let now = 0;
    const dns = byName('127.0.0.1', '127.0.0.2');
    const client = createOriginClient(origin({ url: dns.url }), { ...dns.options, now: () => now });
    seen.length = 0;
    movedSeen.length = 0;
    await client.resolve(['show']);
    now += 60_000;
    await client.resolve(['show']);
    expect([seen.length, movedSeen.length]).toEqual([1, 1]);
    expect(seen[0]?.headers.host).toBe(`origin.test:${new URL(base).port}`);
  });

  it('a refused connection looks the name up again at once, and the retry reaches the origin where it is now', async () => {
    answer = serveObject;
    // Nothing listens on 127.0.0.3.
    const dns = byName('127.0.0.3', '127.0.0.1');
    const client = createOriginClient(origin({ url: dns.url, retries: 1 }), dns.options);
    await expect(client.resolve(['show'])).resolves.toMatchObject({ size: body.length });
    expect(dns.asked).toHaveLength(2);
  });
});
