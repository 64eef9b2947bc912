// `segments warm` asks as background work: every segment request it sends carries Priority: u=7 (RFC 9218),
// seen by a plain HTTP server standing in for the service.
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'segments.js');
const seen: Array<{ url: string; priority: string | undefined }> = [];
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    seen.push({ url: request.url ?? '', priority: request.headers.priority as string | undefined });
    response.writeHead(200, { 'content-type': request.url === '/healthz' ? 'application/json' : 'audio/mpeg' });
    response.end(request.url === '/healthz' ? '{"status":"ok"}' : Buffer.alloc(1_000));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('segments warm', () => {
  it('sends every segment request with Priority: u=7, so its renders wait behind listeners', async () => {
    const list = 'source,start,end\ndemo/tones,1,2\ndemo/tones,3,4.5\n';
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const { SIGNING_KEY: _unset, SEGMENTS_URL: _url, ...env } = process.env;
      const child = execFile(process.execPath, [CLI, 'warm', '-', '--url', base], { env }, (error, stdout) =>
        resolve({ code: error ? (error.code as number) : 0, out: stdout }),
      );
      child.stdin?.end(list);
    });
    expect(code, out).toBe(0);
    const segments = seen.filter((request) => request.url.startsWith('/segments/'));
    expect(segments.map((request) => request.url).sort()).toEqual(['/segments/demo/tones/1-2.mp3', '/segments/demo/tones/3-4.5.mp3']);
    expect(segments.map((request) => request.priority)).toEqual(['u=7', 'u=7']);
  });
});
