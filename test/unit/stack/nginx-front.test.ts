import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config.js';
import { NGINX_TEMPLATE, nginxValues, renderNginxConfig } from '../../../src/stack/nginx-front.js';

/** The one number of a directive such as `proxy_cache_lock_timeout 45s;`, in seconds. */
function seconds(conf: string, directive: string): number {
  const match = new RegExp(`^\\s*${directive}\\s+(\\d+)s;`, 'm').exec(conf);
  if (!match) throw new Error(`no ${directive} in the rendered nginx.conf`);
  return Number(match[1]);
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

  it('sends one miss per key upstream with proxy_cache_lock on', async () => {
    expect(await rendered()).toMatch(/^\s*proxy_cache_lock on;/m);
  });

  it('holds the rest of a crowd behind the cache lock only briefly, so they join the render upstream and get its bytes as they are written', async () => {
    expect(await rendered()).toMatch(/^\s*proxy_cache_lock_timeout 200ms;/m);
  });

  it.each(['proxy_cache_lock_age', 'proxy_read_timeout'])(
    'waits with %s at least as long as the API waits for a render',
    async (directive) => {
      expect(seconds(await rendered(), directive)).toBeGreaterThanOrEqual(30);
      expect(seconds(await rendered({ WAIT_TIMEOUT_MS: '120000' }), directive)).toBeGreaterThanOrEqual(120);
    },
  );

  it('keeps connections to the API alive', async () => {
    expect(await rendered()).toMatch(/upstream segment_api \{[^}]*\bkeepalive \d+;/);
  });

  it('puts its pid, cache and temp files under DATA_DIR', async () => {
    const conf = await rendered({ DATA_DIR: '/tmp/segments-data' });
    expect(conf).toContain('pid /tmp/segments-data/nginx/nginx.pid;');
    expect(conf).toContain('proxy_cache_path /tmp/segments-data/nginx/cache ');
    expect(conf).toContain('proxy_temp_path /tmp/segments-data/nginx/temp/proxy;');
  });
});
