// Owns the tests' own small nginx servers (an HTTP origin, the cluster's front): a config in the foreground,
// one process, every path under one state folder, and its start by pid (stopped gracefully with SIGQUIT).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type LineSink, type ManagedProcess, startProcess } from '../../src/stack/managed-process.js';
import type { OrphanGuard } from '../../src/stack/orphan-guard.js';

/** Writes `state`/nginx.conf around `http` (the inside of its http block) and starts nginx on it. */
export async function startPlainNginx(options: {
  program: string;
  state: string;
  http: string;
  workerConnections?: number;
  name?: string;
  sink: LineSink;
  launcher?: readonly string[];
  guard?: OrphanGuard;
}): Promise<ManagedProcess> {
  const { state } = options;
  await mkdir(state, { recursive: true });
  const conf = `daemon off;
master_process off;
pid ${state}/nginx.pid;
error_log ${state}/error.log warn;
events { worker_connections ${options.workerConnections ?? 256}; }
http {
  client_body_temp_path ${state};
  proxy_temp_path ${state};
  fastcgi_temp_path ${state};
  uwsgi_temp_path ${state};
  scgi_temp_path ${state};
${options.http}
}
`;
  const file = path.join(state, 'nginx.conf');
  await writeFile(file, conf);
  return startProcess({
    name: options.name ?? 'nginx',
    command: options.program,
    args: ['-c', file, '-p', state, '-e', `${state}/error.log`],
    stopSignal: 'SIGQUIT',
    launcher: options.launcher,
    guard: options.guard,
    sink: options.sink,
  });
}
