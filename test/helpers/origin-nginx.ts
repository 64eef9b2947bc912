// Starts an nginx on loopback as the tests' HTTP origin: a media folder served under /media/ (Range,
// ETag and If-Match are nginx's own), an access log of every request with $body_bytes_sent (the bytes-read
// figure), and paths under /media/faults/ that misbehave: 500, a redirect off the origin, and a stall
// (proxied to a socket that never answers). Stopped by pid.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/stack/free-port.js';
import { startPlainNginx } from './plain-nginx.js';
import { requireProgram } from './system-programs.js';

export interface OriginNginx {
  /** http://127.0.0.1:<port>/media: what MEDIA_ORIGIN is set to. */
  url: string;
  /** Every request so far: method, path, status, body bytes sent. */
  requests(): Promise<Array<{ method: string; path: string; status: number; bytes: number }>>;
  stop(): Promise<void>;
}

/** `root`: the folder nginx serves; its media/ subfolder is the origin's prefix, anything beside it lies outside. */
export async function startOriginNginx(root: string, logs: string[]): Promise<OriginNginx> {
  const nginx = requireProgram('nginx', 'nginx');
  const port = await freePort();
  // A socket that accepts and never answers: the stalled origin.
  const held: net.Socket[] = [];
  const blackhole = net.createServer((socket) => held.push(socket));
  await new Promise<void>((listening) => blackhole.listen(0, '127.0.0.1', listening));
  const stallPort = (blackhole.address() as net.AddressInfo).port;
  const state = path.join(root, '.nginx');
  const accessLog = path.join(state, 'access.log');
  const process = await startPlainNginx({
    program: nginx,
    state,
    name: 'origin-nginx',
    sink: (name, line) => logs.push(`${name}: ${line}`),
    http: `
  log_format bytes '$request_method $uri $status $body_bytes_sent';
  access_log ${accessLog} bytes;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location /media/faults/500/ { return 500; }
    location /media/faults/redirect/ { return 302 http://127.0.0.1:${port}/secret.mp3; }
    location /media/faults/stall/ { proxy_pass http://127.0.0.1:${stallPort}; proxy_read_timeout 600s; }
    location / { }
  }`,
  });
  // Ready when it answers.
  for (let tries = 0; ; tries += 1) {
    const answered = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (answered) break;
    if (tries > 100) throw new Error(`origin nginx did not start:\n${logs.slice(-10).join('\n')}`);
    await new Promise((wake) => setTimeout(wake, 50));
  }
  return {
    url: `http://127.0.0.1:${port}/media`,
    async requests() {
      const text = await readFile(accessLog, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [method, uri, status, bytes] = line.split(' ');
          return { method: method!, path: uri!, status: Number(status), bytes: Number(bytes) };
        });
    },
    async stop() {
      await process.stop(5_000);
      for (const socket of held) socket.destroy();
      await new Promise((closed) => blackhole.close(closed));
    },
  };
}
