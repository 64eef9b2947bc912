// The built `segments` CLI against the real stack (Redis, workers, API, nginx on free ports, a temp
// DATA_DIR and MEDIA_ROOT): render through the service and locally, warm, purge, probe, their errors.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { copyFile, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configToEnv, PROJECT_ROOT } from '../../src/config.js';
import { freePort } from '../../src/stack/free-port.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import { eventually, getBytes, rendersTotal, startTestStack, type TestStack } from '../helpers/test-stack.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'segments.js');

let t: TestStack;
let work: string;
/** A port nothing listens on: a service that is not running. */
let closedPort: number;

/**
 * Runs the CLI with the stack's configuration (and `env` on top), in the temp working folder; with
 * `closeStdout`, its stdout is closed after the first chunk, as `| head` does.
 */
function segments(
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
  closeStdout = false,
): Promise<{ code: number | null; out: string; err: string; bytes: Buffer }> {
  const { SIGNING_KEY: _key, SEGMENTS_URL: _url, ...rest } = process.env;
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: work,
    env: { ...rest, ...configToEnv(t.config), REDIS_URL: t.stack.redisUrl, ...env },
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    out.push(chunk);
    if (closeStdout) child.stdout.destroy();
  });
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.end(stdin ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8'), bytes: Buffer.concat(out) }),
    );
  });
}

beforeAll(async () => {
  t = await startTestStack();
  work = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-cli-'));
  closedPort = await freePort();
});
afterAll(async () => {
  await t?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function noStackTrace(err: string) {
  expect(err).not.toMatch(/\n\s+at /);
}

describe('segments render', () => {
  it('through the service writes the same bytes nginx serves, to a readable name in the cwd', async () => {
    const before = await rendersTotal(t.apiUrl);
    const { code, out, err } = await segments(['render', 'demo/tones', '40', '45', '--url', t.url]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/^tones_40-45\.mp3: \d+ bytes, 40-45 s of demo\/tones \(from http:\/\/127\.0\.0\.1:\d+, X-Cache-Status MISS\)\n$/);
    const written = await readFile(path.join(work, 'tones_40-45.mp3'));
    const served = await getBytes(`${t.url}/segments/demo/tones/40-45.mp3`);
    expect(served.response.headers.get('x-cache-status')).toBe('HIT');
    expect(written.equals(served.body)).toBe(true);
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
  });

  it('SEGMENTS_URL stands in for --url; -o - writes the audio to stdout', async () => {
    const { code, bytes } = await segments(['render', 'demo/tones', '40', '45', '-o', '-'], { SEGMENTS_URL: t.url });
    expect(code).toBe(0);
    expect(bytes.equals((await getBytes(`${t.url}/segments/demo/tones/40-45.mp3`)).body)).toBe(true);
  });

  it('locally (no service) renders the bytes the service renders, exact mode included', async () => {
    const before = await rendersTotal(t.apiUrl);
    const local = await segments([
      'render',
      'demo/tones',
      '5',
      '12.5',
      '--mode',
      'exact',
      '--bitrate',
      '64',
      '--fade-in',
      '0.5',
      '-o',
      'local.mp3',
    ]);
    expect(local.err).toBe('');
    expect(local.code).toBe(0);
    expect(local.out).toMatch(/^local\.mp3: \d+ bytes, 5-12\.5 s of demo\/tones \(7\.500 s, rendered locally from /);
    expect(await rendersTotal(t.apiUrl)).toBe(before);
    const served = await getBytes(`${t.url}/segments/demo/tones/5-12.5.mp3?mode=exact&bitrate=64&fade_in=0.5`);
    expect((await readFile(path.join(work, 'local.mp3'))).equals(served.body)).toBe(true);
    expect(readMp3(served.body).sampleRate).toBe(44100);
  });

  it.each([
    [['render', 'demo/missing', '1', '2'], 2, /^segments: There is no source 'demo\/missing'/],
    [['render', 'demo/tones', '100', '120'], 2, /^segments: 'start' \(100 s\) is at or past the end of the source, which lasts 90 s\./],
    [['render', 'bad/not-audio', '1', '2'], 2, /^segments: 'bad\/not-audio' is not a decodable MP3 file/],
    [['render', 'demo/tones', '2', '1'], 2, /^segments: 'end' \(1\) must be greater than 'start' \(2\)\./],
    [['render', '../etc/passwd', '1', '2'], 2, /^segments: Source paths may not contain '\.' or '\.\.' segments\./],
    [['render', 'demo/tones', '1', '2', '--mode', 'fast'], 2, /^segments: Query parameter 'mode' takes 'copy'/],
    [
      ['render', 'demo/tones', '1', '2', '-o', 'no/such/folder/x.mp3'],
      2,
      /^segments: cannot write 'no\/such\/folder\/x\.mp3': no such file or directory \(ENOENT\)/,
    ],
    [['render', 'demo/tones', '1'], 64, /^segments: render takes 3 argument\(s\), got 2; see 'segments render --help'\./],
    [['render', 'demo/tones', '1', '2', '--speed', '2'], 64, /^segments: render: Unknown option '--speed'; see 'segments render --help'\./],
    [['render', 'demo/tones', '1', '2', '--url', 'ftp://x'], 64, /^segments: --url "ftp:\/\/x" is not the base URL of a service/],
  ])('locally %j exits %i with one line', async (args, exitCode, message) => {
    const { code, err } = await segments(args);
    expect(err).toMatch(message);
    expect(err.trim().split('\n')).toHaveLength(1);
    noStackTrace(err);
    expect(code).toBe(exitCode);
  });

  it('through the service, a problem answer is its detail on one line (4xx: exit 2); a service that is not there exits 69', async () => {
    const missing = await segments(['render', 'demo/missing', '1', '2', '--url', t.url]);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe("segments: 404: There is no source 'demo/missing': no file demo/missing.mp3 below the media root.\n");
    const late = await segments(['render', 'demo/tones', '100', '120', '--url', t.url]);
    expect(late.code).toBe(2);
    expect(late.err).toMatch(/^segments: 422: 'start' \(100 s\) is at or past the end/);
    const down = await segments(['render', 'demo/tones', '1', '2', '--url', `http://127.0.0.1:${closedPort}`]);
    expect(down.code).toBe(69);
    expect(down.err).toMatch(/^segments: cannot reach the service at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is it running\?/);
    noStackTrace(down.err);
  });

  it('a bad SEGMENTS_URL is a configuration error naming the variable (78)', async () => {
    const { code, err } = await segments(['render', 'demo/tones', '1', '2'], { SEGMENTS_URL: 'localhost:8080' });
    expect(code).toBe(78);
    expect(err).toMatch(/^segments: Invalid SEGMENTS_URL="localhost:8080": must be the base URL of the service/);
  });
});

describe('segments probe', () => {
  it('prints the same facts locally and through GET /sources/{source}', async () => {
    const local = await segments(['probe', 'demo/tones']);
    const remote = await segments(['probe', 'demo/tones', '--url', t.url]);
    expect(local.code).toBe(0);
    expect(local.out).toBe(remote.out);
    expect(local.out).toMatch(
      /^source {7}demo\/tones\nduration {5}90 s\nsample rate {2}44100 Hz\nchannels {5}2\nbit rate {5}\d+ kbps\nsize {9}\d+ bytes\n$/,
    );
    const json = await segments(['probe', 'demo/tones.mp3', '--json', '--url', t.url]);
    expect(JSON.parse(json.out)).toEqual(await (await fetch(`${t.url}/sources/demo/tones`)).json());
  });

  it('a missing or undecodable source is one line and exit 2, locally and through the service', async () => {
    for (const extra of [[], ['--url', t.url]]) {
      const missing = await segments(['probe', 'demo/missing', ...extra]);
      expect(missing.code).toBe(2);
      expect(missing.err).toMatch(/There is no source 'demo\/missing'/);
      const empty = await segments(['probe', 'bad/empty', ...extra]);
      expect(empty.code).toBe(2);
      expect(empty.err).toMatch(/'bad\/empty' is not a decodable MP3 file: it is empty\./);
      noStackTrace(empty.err);
    }
  });
});

describe('segments warm', () => {
  it('fetches every segment of a CSV list through nginx, then they are nginx HITs', async () => {
    const before = await rendersTotal(t.apiUrl);
    await writeFile(
      path.join(work, 'list.csv'),
      'source,start,end,mode\ndemo/tones,60,61,\n"demo/tones",61,62,copy\n\ndemo/tones,62,63,exact\ndemo/tones,060,61.0,\n',
    );
    const { code, out, err } = await segments(['warm', 'list.csv', '--concurrency', '2', '--url', t.url]);
    expect(code).toBe(0);
    expect(out).toMatch(/^warmed 3 of 3 segment\(s\) in \d+\.\d s \(X-Cache-Status: 3 MISS\); 0 failed\n$/);
    // Not a terminal: plain lines, no bar.
    expect(err).toMatch(/^3\/3 {2}done 3 {2}failed 0 {2}[\d.]+\/s {2}ETA 0 s\n$/m);
    expect(err).not.toMatch(/\[#/);
    expect(await rendersTotal(t.apiUrl)).toBe(before + 3);
    for (const url of ['/segments/demo/tones/60-61.mp3', '/segments/demo/tones/61-62.mp3', '/segments/demo/tones/62-63.mp3?mode=exact']) {
      expect((await getBytes(t.url + url)).response.headers.get('x-cache-status')).toBe('HIT');
    }
  });

  it('reads a JSON list from stdin; a failed segment is a line of its own, counted, and exit 1', async () => {
    const list = JSON.stringify([
      { source: 'demo/tones', start: 70, end: 71 },
      { source: 'bad/not-audio', start: 1, end: 2 },
      { source: 'demo/tones', start: 71, end: 72.5, mode: 'exact', bitrate: 64 },
    ]);
    const { code, out, err } = await segments(['warm', '-', '--url', t.url], {}, list);
    expect(code).toBe(1);
    expect(out).toMatch(/^warmed 2 of 3 segment\(s\) in [\d.]+ s \(X-Cache-Status: 2 MISS\); 1 failed\n$/);
    expect(err).toMatch(/^failed: \/segments\/bad\/not-audio\/1-2\.mp3: 422: 'bad\/not-audio' is not a decodable MP3 file/m);
    expect(err).toMatch(/^segments: 1 of 3 segment\(s\) failed; see the lines above\.$/m);
    noStackTrace(err);
  });

  it.each([
    ['source,start\ndemo/tones,1\n', /^segments: bad\.csv: line 2: 'end' is missing\.\n$/],
    ['source,start,end,speed\ndemo/tones,1,2,3\n', /^segments: bad\.csv: line 1: unknown column 'speed'/],
    ['source,start,end\ndemo/tones,1\n', /^segments: bad\.csv: line 2: 2 field\(s\), but the header names 3\.\n$/],
    [
      'source,start,end\ndemo/tones,1,2\ndemo/tones,5,4\n',
      /^segments: bad\.csv: line 3: 'end' \(4\) must be greater than 'start' \(5\)\.\n$/,
    ],
    ['source,start,end\nde"mo,1,2\n', /^segments: bad\.csv: line 2: a quote inside an unquoted field/],
    ['[{"source": "demo/tones", "start": 1}]', /^segments: bad\.csv: item 1: 'end' is missing\.\n$/],
    ['[1, 2', /^segments: bad\.csv: not valid JSON/],
  ])('a bad list (%j) is refused before anything is fetched: one line naming the row, exit 2', async (text, message) => {
    await writeFile(path.join(work, 'bad.csv'), text);
    const { code, err } = await segments(['warm', 'bad.csv', '--url', t.url]);
    expect(err).toMatch(message);
    expect(code).toBe(2);
  });

  it('a missing list, a bad --concurrency and a service that is not there are one line each', async () => {
    const missing = await segments(['warm', 'nope.csv', '--url', t.url]);
    expect([missing.code, missing.err]).toEqual([2, "segments: cannot read the list 'nope.csv': ENOENT\n"]);
    const concurrency = await segments(['warm', 'list.csv', '--concurrency', '0', '--url', t.url]);
    expect(concurrency.code).toBe(64);
    expect(concurrency.err).toMatch(/^segments: --concurrency takes a whole number from 1 to 64 \(got '0'\)\.\n$/);
    const down = await segments(['warm', 'list.csv', '--url', `http://127.0.0.1:${closedPort}`]);
    expect(down.code).toBe(69);
    expect(down.err).toMatch(/^segments: cannot reach the service at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });
});

describe('segments purge', () => {
  it('after a source file is replaced, removes its renders and nginx entries: the next request is a MISS that renders the new file', async () => {
    const file = path.join(t.config.mediaRoot, 'demo', 'replaced.mp3');
    await copyFile(path.join(t.config.mediaRoot, 'demo', 'tones.mp3'), file);
    const url = `${t.url}/segments/demo/replaced/1-3.mp3`;
    const first = await getBytes(url);
    expect(first.response.headers.get('x-cache-status')).toBe('MISS');
    await getBytes(`${url}?mode=exact`);
    // Used twice more, so nginx holds its descriptor in open_file_cache.
    expect((await getBytes(url)).response.headers.get('x-cache-status')).toBe('HIT');
    expect((await getBytes(url)).response.headers.get('x-cache-status')).toBe('HIT');
    // Another source whose name starts the same way is left alone.
    await getBytes(`${t.url}/segments/demo/tones/1-3.mp3`);

    // The new file: another recording, another size and mtime.
    await copyFile(path.join(t.config.mediaRoot, 'demo', 'chirp.mp3'), file);
    await utimes(file, new Date(), new Date(Date.now() + 5_000));
    const newSize = (await stat(file)).size;
    await eventually(
      async () => ((await (await fetch(`${t.apiUrl}/sources/demo/replaced`)).json()) as { size: number }).size === newSize || undefined,
      'the API to see the new file',
    );
    expect((await getBytes(url)).response.headers.get('x-cache-status')).toBe('HIT');

    const { code, out, err } = await segments(['purge', 'demo/replaced']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(
      /^removed 2 render\(s\) \(\d+ bytes\) from .*\/store\nremoved 2 nginx cache entries from .*\/nginx\/cache\nstore byte count in Redis lowered by \d+\n$/,
    );

    const before = await rendersTotal(t.apiUrl);
    const after = await getBytes(url);
    expect(after.response.status).toBe(200);
    expect(after.response.headers.get('x-cache-status')).toBe('MISS');
    expect(await rendersTotal(t.apiUrl)).toBe(before + 1);
    expect(after.body.equals(first.body)).toBe(false);
    expect((await getBytes(`${t.url}/segments/demo/tones/1-3.mp3`)).response.headers.get('x-cache-status')).toBe('HIT');
    // nginx took the invalidated file it held open as a MISS, without an error in its log.
    expect(await readFile(path.join(t.config.dataDir, 'logs', 'nginx', 'error.log'), 'utf8')).not.toMatch(/\[(crit|error|alert)\]/);
  });

  it('a source with nothing stored removes nothing; a bad name is exit 2', async () => {
    const none = await segments(['purge', 'demo/never-rendered']);
    expect(none.code).toBe(0);
    expect(none.out).toMatch(/^removed 0 render\(s\) \(0 bytes\) from .*\nremoved 0 nginx cache entries from .*\n$/);
    const bad = await segments(['purge', 'demo/../x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^segments: Source paths may not contain '\.' or '\.\.' segments\.\n$/);
    const usage = await segments(['purge']);
    expect(usage.code).toBe(64);
  });
});

describe('segments nginx-config', () => {
  it('prints nginx.conf with every value filled in from flags over the configuration', async () => {
    const { code, out } = await segments([
      'nginx-config',
      '--host',
      '0.0.0.0',
      '--port',
      '80',
      '--api-port',
      '3100',
      '--data-dir',
      '/var/lib/mp3-segments',
    ]);
    expect(code).toBe(0);
    expect(out).not.toMatch(/\{\{[A-Z_]+\}\}/);
    expect(out).toMatch(/listen 0\.0\.0\.0:80;/);
    expect(out).toMatch(/server 127\.0\.0\.1:3100;/);
    expect(out).toMatch(/proxy_cache_path "\/var\/lib\/mp3-segments\/nginx\/cache" /);
    expect(out).toMatch(/proxy_cache_key \$request_uri;/);
  });

  it('a bad flag value names its variable (78); an argument is a usage error (64)', async () => {
    const bad = await segments(['nginx-config', '--port', 'eighty']);
    expect([bad.code, bad.err]).toEqual([78, 'segments: Invalid PORT="eighty": must be a whole number from 1 to 65535\n']);
    expect((await segments(['nginx-config', 'extra'])).code).toBe(64);
  });
});

describe('against a service that misbehaves (a local server)', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/healthz') return response.end('ok');
      if (request.url === '/sources/demo/tones')
        return response.writeHead(200, { 'content-type': 'text/html' }).end('<html>a proxy page</html>');
      if (request.url === '/segments/demo/tones/0-1.mp3')
        return response.writeHead(200, { 'content-type': 'audio/mpeg' }).end(Buffer.alloc(1000));
      // The connection drops mid-body: undici's `TypeError: terminated` in the CLI.
      if (request.url === '/segments/demo/tones/1-2.mp3') {
        response.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': '100000' });
        return response.write(Buffer.alloc(1000), () => response.socket?.destroy());
      }
      if (request.url === '/segments/demo/tones/2-3.mp3')
        return response.writeHead(200, { 'content-type': 'audio/mpeg' }).end(Buffer.alloc(4 * 1024 * 1024));
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('warm: a body that breaks off is one failed segment, the rest go on, a summary and exit 1', async () => {
    const { code, out, err } = await segments(['warm', '-', '--url', url], {}, 'source,start,end\ndemo/tones,0,1\ndemo/tones,1,2\n');
    expect(out).toMatch(/^warmed 1 of 2 segment\(s\) in [\d.]+ s \(X-Cache-Status: 1 none\); 1 failed\n$/);
    expect(err).toMatch(
      /^failed: \/segments\/demo\/tones\/1-2\.mp3: the service at http:\/\/127\.0\.0\.1:\d+ answered a body that broke off \(/m,
    );
    expect(code).toBe(1);
    noStackTrace(err);
  });

  it('render -o - into a reader that goes away (`| head`) exits 0 quietly', async () => {
    const { code, err } = await segments(['render', 'demo/tones', '2', '3', '--url', url, '-o', '-'], {}, undefined, true);
    expect([code, err]).toEqual([0, '']);
  });

  it('probe: a 200 answer that is not JSON is one line, exit 69', async () => {
    const { code, err } = await segments(['probe', 'demo/tones', '--url', url]);
    expect(err).toMatch(/^segments: the service at http:\/\/127\.0\.0\.1:\d+ answered a body that is not JSON\n$/);
    expect(code).toBe(69);
  });
});
