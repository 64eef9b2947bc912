import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, PROJECT_ROOT } from '../../../src/config.js';
import { logsDir, nginxDir } from '../../../src/data-layout.js';
import { RETRY_AFTER } from '../../../src/retry-after.js';
import { NGINX_TEMPLATE, nginxValues, renderNginxConfig } from '../../../src/stack/nginx-front.js';
import { requireProgram } from '../../helpers/system-programs.js';

/** The number of the first directive such as `proxy_cache_lock_timeout 200ms;`, in ms. */
function millis(conf: string, directive: string): number {
  const match = new RegExp(`^\\s*${directive}\\s+(\\d+)(ms|s);`, 'm').exec(conf);
  if (!match) throw new Error(`no ${directive} in the rendered nginx.conf`);
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1);
}

/** The text of a `location` block, from its opening line to the next location. */
function location(conf: string, opening: string): string {
  const start = conf.indexOf(`location ${opening} {`);
  if (start < 0) throw new Error(`no location ${opening} in the rendered nginx.conf`);
  const next = conf.indexOf('location ', start + 1);
  return conf.slice(start, next < 0 ? undefined : next);
}

describe('renderNginxConfig', () => {
  it('replaces every {{NAME}}, each time it appears', () => {
    expect(renderNginxConfig('listen {{HOST}}:{{PORT}}; # {{PORT}}', { HOST: '127.0.0.1', PORT: 8080 })).toBe(
      'listen 127.0.0.1:8080; # 8080',
    );
  });

  it('leaves text without placeholders as it is', () => {
    expect(renderNginxConfig('events { worker_connections 4096; }', {})).toBe('events { worker_connections 4096; }');
  });

  it('escapes a backslash and a double quote, so a value stays inside the quoted string the template puts it in', () => {
    expect(renderNginxConfig('pid "{{DIR}}/nginx.pid";', { DIR: '/tmp/a "b"\\c' })).toBe('pid "/tmp/a \\"b\\"\\\\c/nginx.pid";');
  });

  it('refuses a name that has no value, naming it', () => {
    expect(() => renderNginxConfig('listen {{HOST}}:{{PORTS}};', { HOST: '127.0.0.1', PORT: 8080 })).toThrow(
      'nginx.conf names {{PORTS}}, which has no value',
    );
  });
});

describe("the repository's nginx.conf", () => {
  it('is the nginx.conf at the root of the checkout', () => {
    expect(NGINX_TEMPLATE).toBe(path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../nginx.conf'));
  });

  async function rendered(env: Record<string, string> = {}): Promise<string> {
    return renderNginxConfig(await readFile(NGINX_TEMPLATE, 'utf8'), nginxValues(parseConfig(env)));
  }

  // The header comment mentions "{{...}}" in words; only directives must be free of placeholders.
  it('renders with the default configuration, leaving no placeholder in any directive', async () => {
    const conf = await rendered();
    const directives = conf.split('\n').filter((line) => !line.trimStart().startsWith('#'));
    expect(directives.filter((line) => line.includes('{{'))).toEqual([]);
    expect(conf).not.toMatch(/\{\{[A-Z_]+\}\}/);
  });

  it('proxies to the API port and listens on the public port', async () => {
    const conf = await rendered({ PORT: '18080', API_PORT: '13000' });
    expect(conf).toMatch(/^\s*server 127\.0\.0\.1:13000;/m);
    expect(conf).toMatch(/^\s*listen 127\.0\.0\.1:18080;/m);
  });

  it("refuses a DATA_DIR with a '$', which nginx would read as a variable, naming DATA_DIR", () => {
    expect(() => nginxValues(parseConfig({ DATA_DIR: '/tmp/$data' }))).toThrow(/^Invalid DATA_DIR=.*must not contain '\$'/);
  });

  it('listens on an IPv6 HOST in brackets', async () => {
    expect(await rendered({ HOST: '::1', PORT: '18080' })).toMatch(/^\s*listen \[::1\]:18080;/m);
  });

  it.each([
    ['an IPv6 HOST', { HOST: '::1' }, 'data'],
    ['a DATA_DIR holding spaces and quotes', {}, 'data dir "quoted" \\ too'],
  ])('is a config nginx accepts (nginx -t) with %s', async (_, env: Record<string, string>, dataDir) => {
    const nginx = requireProgram('nginx', 'nginx');
    const root = await mkdtemp(path.join(os.tmpdir(), 'nginx-conf-test-'));
    try {
      const config = parseConfig({ ...env, PORT: '18080', DATA_DIR: path.join(root, dataDir) });
      const dir = nginxDir(config.dataDir);
      // nginx makes only the last level of its paths (startNginx makes these).
      await mkdir(path.join(dir, 'temp'), { recursive: true });
      await mkdir(path.join(logsDir(config.dataDir), 'nginx'), { recursive: true });
      const file = path.join(root, 'nginx.conf');
      await writeFile(file, renderNginxConfig(await readFile(NGINX_TEMPLATE, 'utf8'), nginxValues(config)));
      const checked = spawnSync(nginx, ['-t', '-p', dir, '-c', file, '-e', path.join(root, 'error.log')], { encoding: 'utf8' });
      expect(checked.stderr).toContain('test is successful');
      expect(checked.status).toBe(0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('sends one miss per key upstream with proxy_cache_lock on', async () => {
    expect(await rendered()).toMatch(/^\s*proxy_cache_lock on;/m);
  });

  it('holds the rest of a crowd behind the cache lock only briefly, so they join the render upstream and get its bytes as they are written', async () => {
    expect(await rendered()).toMatch(/^\s*proxy_cache_lock_timeout 200ms;/m);
  });

  it.each(['30000', '2000', '120000'])(
    "with WAIT_TIMEOUT_MS=%s, a segment waits upstream past the API's wait, but cache lock and read timeout together at most 1 s past it",
    async (wait) => {
      const segments = location(await rendered({ WAIT_TIMEOUT_MS: wait }), '/segments/');
      const lock = millis(segments, 'proxy_cache_lock_timeout');
      const read = millis(segments, 'proxy_read_timeout');
      expect(read).toBeGreaterThan(Number(wait));
      expect(lock + read).toBeLessThanOrEqual(Number(wait) + 1000);
      expect(millis(segments, 'proxy_cache_lock_age')).toBeGreaterThanOrEqual(Number(wait));
    },
  );

  it("elsewhere waits well past the API's wait, so the API decides when a listing or a probe fails", async () => {
    expect(millis(await rendered({ WAIT_TIMEOUT_MS: '120000' }), 'proxy_read_timeout')).toBeGreaterThan(120_000);
  });

  it("answers its own 502, 503 and 504 as a 503 problem+json with Retry-After and no-store, and never intercepts the API's own errors", async () => {
    const conf = await rendered();
    expect(conf).toMatch(/^\s*error_page 502 503 504 =503 \/_problem\/unavailable;/m);
    // Only the store handover intercepts (its file server's 404: the API is asked again); nothing that proxies to the API.
    for (const opening of ['/segments/', '/', '/renders/', '@render'])
      expect(location(conf, opening)).not.toMatch(/proxy_intercept_errors on/);
    const problem = location(conf, '= /_problem/unavailable');
    expect(problem).toMatch(/^\s*internal;/m);
    expect(problem).toMatch(/^\s*default_type application\/problem\+json;/m);
    expect(problem).toMatch(/^\s*add_header Cache-Control no-store always;/m);
    expect(problem).toMatch(new RegExp(`^\\s*add_header Retry-After ${RETRY_AFTER.frontNoAnswer} always;`, 'm'));
    expect(problem).toContain('"type":"urn:mp3-segments:problem:unavailable"');
  });

  it('never stores an answer that redirects (a 308 to the canonical URL)', async () => {
    expect(location(await rendered(), '/segments/')).toMatch(/^\s*proxy_no_cache [^;]*\$upstream_http_location[^;]*;/m);
  });

  it('refuses a URL or a header over 8 KB, as docs/api.md says', async () => {
    expect(await rendered()).toMatch(/^\s*large_client_header_buffers \d+ 8k;/m);
    expect(await readFile(path.join(PROJECT_ROOT, 'docs', 'api.md'), 'utf8')).toMatch(/a URL or a header over 8 KB/);
  });

  it('keeps connections to the API alive', async () => {
    expect(await rendered()).toMatch(/upstream segment_api \{[^}]*\bkeepalive \d+;/);
  });

  it('puts its pid, cache and temp files under DATA_DIR', async () => {
    const conf = await rendered({ DATA_DIR: '/tmp/segments-data' });
    expect(conf).toContain('pid "/tmp/segments-data/nginx/nginx.pid";');
    expect(conf).toContain('proxy_cache_path "/tmp/segments-data/nginx/cache" ');
    expect(conf).toContain('proxy_temp_path "/tmp/segments-data/nginx/temp/proxy";');
  });
});
