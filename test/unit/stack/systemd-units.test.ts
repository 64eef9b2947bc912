// The systemd units shipped for a production install (src/stack/systemd/) start entry points that the build
// makes, and count worker restarts under the Redis key the API reads.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT, parseConfig } from '../../../src/config.js';
import { WORKER_RESTARTS_KEY } from '../../../src/observability/worker-restarts.js';
import { NGINX_TEMPLATE, nginxValues, renderNginxConfig } from '../../../src/stack/nginx-front.js';
import { API_ENTRY, WORKER_ENTRY } from '../../../src/stack/stack.js';

const UNITS = path.join(PROJECT_ROOT, 'src', 'stack', 'systemd');
/** Where docs/operations.md installs the checkout; the units name it. */
const INSTALL_ROOT = '/opt/mp3-segments';
/** The units' DATA_DIR (StateDirectory=mp3-segments). */
const STATE_DIR = '/var/lib/mp3-segments';

async function directive(unit: string, name: string): Promise<string[]> {
  const text = await readFile(path.join(UNITS, unit), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}=`))
    .map((line) => line.slice(name.length + 1));
}

/** The script a unit starts, as a path in this checkout. */
async function startedEntry(unit: string): Promise<string> {
  const [execStart] = await directive(unit, 'ExecStart');
  const [node, script, ...rest] = (execStart ?? '').split(' ');
  expect(node).toBe('/usr/bin/node');
  expect(rest).toEqual([]);
  expect(script?.startsWith(`${INSTALL_ROOT}/`)).toBe(true);
  return path.join(PROJECT_ROOT, path.relative(INSTALL_ROOT, script ?? ''));
}

describe('the shipped systemd units', () => {
  it('start the API from dist/src/server.js, which the build makes', async () => {
    const entry = await startedEntry('mp3-segments-api.service');
    expect(entry).toBe(API_ENTRY);
    expect(existsSync(entry)).toBe(true);
  });

  it('start each worker instance from dist/workers/main.js, which the build makes', async () => {
    const entry = await startedEntry('mp3-segments-worker@.service');
    expect(entry).toBe(WORKER_ENTRY);
    expect(existsSync(entry)).toBe(true);
  });

  it('run from the install root and read the same settings file', async () => {
    for (const unit of ['mp3-segments-api.service', 'mp3-segments-worker@.service']) {
      expect(await directive(unit, 'WorkingDirectory')).toEqual([INSTALL_ROOT]);
      expect(await directive(unit, 'EnvironmentFile')).toEqual(['/etc/mp3-segments.env']);
      expect(await directive(unit, 'Restart')).toEqual(['always']);
      expect(await directive(unit, 'RestartPreventExitStatus')).toEqual(['78']);
    }
  });

  it('let a worker finish its render on stop: the stop timeout is longer than the default render limit (120 s)', async () => {
    expect(Number((await directive('mp3-segments-worker@.service', 'TimeoutStopSec'))[0])).toBeGreaterThan(120);
  });

  it('count a worker restart under the key segment_worker_restarts_total is read from, only after an unclean end', async () => {
    const [stopPost] = await directive('mp3-segments-worker@.service', 'ExecStopPost');
    expect(stopPost).toContain(`INCR ${WORKER_RESTARTS_KEY}`);
    expect(stopPost).toContain('"$$SERVICE_RESULT" != success');
  });

  it('run nginx on the file `segments nginx-config` is told to write, testing it before it starts', async () => {
    const unit = 'mp3-segments-nginx.service';
    const [execStart] = await directive(unit, 'ExecStart');
    expect(execStart).toMatch(/^\/usr\/sbin\/nginx -c \/etc\/nginx\/mp3-segments\.conf /);
    expect((await directive(unit, 'ExecStartPre')).some((line) => line.startsWith('/usr/sbin/nginx -t '))).toBe(true);
    const text = await readFile(path.join(UNITS, unit), 'utf8');
    expect(text).toContain(
      'segments nginx-config --host 0.0.0.0 --port 80 --data-dir /var/lib/mp3-segments > /etc/nginx/mp3-segments.conf',
    );
  });

  it('create, before nginx starts, the parent of every folder and file the rendered nginx.conf writes (nginx makes only the last level)', async () => {
    const made = (await directive('mp3-segments-nginx.service', 'ExecStartPre'))
      .filter((line) => line.startsWith('/bin/mkdir -p '))
      .flatMap((line) => line.split(' ').slice(2));
    const exists = (folder: string) => folder === STATE_DIR || made.some((dir) => dir === folder || dir.startsWith(`${folder}/`));
    const config = renderNginxConfig(await readFile(NGINX_TEMPLATE, 'utf8'), nginxValues(parseConfig({ DATA_DIR: STATE_DIR })));
    const written = [...config.matchAll(/^\s*(?:pid|error_log|access_log|\w+_temp_path|proxy_cache_path) "(\/[^"]+)"/gm)].map(
      (m) => m[1] ?? '',
    );
    expect(written).toContain(`${STATE_DIR}/nginx/temp/client_body`);
    for (const target of written) expect(exists(path.dirname(target)), target).toBe(true);
  });

  it('are where the operations guide says they are', async () => {
    const guide = await readFile(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
    expect(guide).toContain('src/stack/systemd/');
  });
});
