// Owns running the nginx front: the repository's nginx.conf with its {{...}} values filled from the
// configuration, nginx in the foreground, unprivileged (as 'nobody' when started by root), with its pid,
// temp, cache and log paths under DATA_DIR. Started again by its supervised pool (stack.ts) when it dies.
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { ConfigError, hostPort, PROJECT_ROOT } from '../config.js';
import { logsDir, nginxDir, nginxPidFile, nginxStoreFilesSocket, storeDir } from '../data-layout.js';
import { RETRY_AFTER } from '../retry-after.js';
import { clearLeftover } from './leftover-process.js';
import { type LineLevel, startProcess, type LineSink, type ManagedProcess } from './managed-process.js';
import type { OrphanGuard } from './orphan-guard.js';

export const NGINX_TEMPLATE = path.join(PROJECT_ROOT, 'nginx.conf');

/**
 * Pure: the template with every {{NAME}} replaced; an unknown or unfilled name is an error. Values are
 * escaped for nginx's double-quoted strings (`\\` and `"`), where the template puts every path; numbers
 * and addresses hold neither.
 */
export function renderNginxConfig(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`nginx.conf names {{${name}}}, which has no value`);
    return String(values[name]).replace(/[\\"]/g, '\\$&');
  });
}

/** How long a request waits behind another's cache fill before it goes upstream itself (nginx.conf). */
const CACHE_LOCK_TIMEOUT_MS = 200;
/** The most a client waits through nginx beyond WAIT_TIMEOUT_MS, cache lock included (issue 14). */
const FRONT_WAIT_MARGIN_MS = 1_000;

export function nginxValues(config: Config): Record<string, string | number> {
  // nginx reads a `$` in access_log's path as a variable: no escape exists for it.
  if (config.dataDir.includes('$'))
    throw new ConfigError('DATA_DIR', "must not contain '$' (nginx reads it as a variable)", config.dataDir);
  return {
    LISTEN: hostPort(config.host, config.port),
    API_PORT: config.apiPort,
    NGINX_DIR: nginxDir(config.dataDir),
    NGINX_LOG_DIR: path.join(logsDir(config.dataDir), 'nginx'),
    NGINX_CACHE_MAX_BYTES: config.nginxCacheMaxBytes,
    // The internal /_store/ location: nginx sends the files of the store hits the API hands it.
    STORE_DIR: storeDir(config.dataDir),
    STORE_FILES_SOCKET: nginxStoreFilesSocket(config.dataDir),
    // Outside /segments/: the API's wait limit plus a margin, so the API decides when such a request fails.
    UPSTREAM_TIMEOUT: Math.ceil(config.waitTimeoutMs / 1000) + 15,
    CACHE_LOCK_TIMEOUT_MS,
    // Lock wait plus this read timeout: a segment's client waits at most WAIT_TIMEOUT_MS + 1 s.
    SEGMENT_READ_TIMEOUT_MS: config.waitTimeoutMs + FRONT_WAIT_MARGIN_MS - CACHE_LOCK_TIMEOUT_MS,
    FRONT_RETRY_AFTER: RETRY_AFTER.frontNoAnswer,
  };
}

/** uid/gid of 'nobody' when we are root (nginx then never runs privileged); otherwise our own. */
export async function unprivilegedIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const nobody = passwd.split('\n').find((line) => line.startsWith('nobody:'));
  const [, , uid, gid] = nobody?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : { uid: 65534, gid: 65534 };
}

/**
 * Pure: nginx writes its log to the -e file; what reaches its stderr is a start-up complaint, "nginx:
 * [level] ...", shown at that level (notice and info at debug).
 */
export const nginxLineLevel: LineLevel = (line) => {
  const level = /\[(emerg|alert|crit|error|warn|notice|info|debug)\]/.exec(line)?.[1];
  if (level === 'warn') return 'warn';
  if (level === 'notice' || level === 'info' || level === 'debug') return 'debug';
  return 'error';
};

export async function startNginx(options: {
  program: string;
  config: Config;
  sink: LineSink;
  guard?: OrphanGuard;
  /** Run through this launcher (managed-process.ts), such as `ip netns exec <name>`. */
  launcher?: readonly string[];
}): Promise<ManagedProcess> {
  const values = nginxValues(options.config);
  const dir = String(values.NGINX_DIR);
  const logDir = String(values.NGINX_LOG_DIR);
  const writable = [dir, path.join(dir, 'cache'), path.join(dir, 'temp'), logDir];
  for (const folder of writable) await mkdir(folder, { recursive: true, mode: 0o755 });
  const ids = await unprivilegedIds();
  if (ids) {
    for (const folder of writable) await chown(folder, ids.uid, ids.gid);
    // nginx must be able to reach its folders: DATA_DIR may have been made private (mkdtemp: 0700).
    for (const folder of [options.config.dataDir, logsDir(options.config.dataDir)]) await chmod(folder, 0o755);
  }
  const configFile = path.join(dir, 'nginx.conf');
  // An nginx a killed run left on this config holds our port: the new one could never bind it. nginx titles
  // its master "nginx: master process <its command line>", which names the config file.
  const leftover = await clearLeftover(
    nginxPidFile(options.config.dataDir),
    async (_, commandLine) => commandLine.startsWith('nginx') && commandLine.includes(configFile),
  );
  if (leftover) options.sink('nginx', leftover, 'warn');
  // A killed nginx leaves its socket file behind, and the next one could not bind it.
  await rm(String(values.STORE_FILES_SOCKET), { force: true });
  await writeFile(configFile, renderNginxConfig(await readFile(NGINX_TEMPLATE, 'utf8'), values));
  // A launcher (ip netns exec) needs root to enter its namespace: the drop to 'nobody' comes after it.
  return startProcess({
    name: 'nginx',
    command: options.program,
    args: ['-p', dir, '-c', configFile, '-e', path.join(logDir, 'error.log')],
    ...(options.launcher ? {} : ids),
    launcher:
      options.launcher && ids
        ? [...options.launcher, 'setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups']
        : options.launcher,
    // Graceful: stop accepting, let the requests in flight get their answers (the API's 503s at its stop
    // included), then exit. SIGTERM would close every client connection at once.
    stopSignal: 'SIGQUIT',
    guard: options.guard,
    sink: options.sink,
    levelOf: nginxLineLevel,
  });
}
