// Owns the reference points the product is compared with, each started as its own process and stopped by
// pid: nginx serving a render as a plain static file, the naive one-ffmpeg-per-request server, the worker's
// ffmpeg command run alone, and the plain ffmpeg copy users cut with by hand.
import { execFile } from 'node:child_process';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { PROJECT_ROOT } from '../../src/config.js';
import { buildRenderArguments, type RenderInput } from '../../src/render/render-args.js';
import type { RenderSpec } from '../../src/render/render-spec.js';
import { startProcess, type LineSink, type ManagedProcess } from '../../src/stack/managed-process.js';
import { unprivilegedIds } from '../../src/stack/nginx-front.js';

export interface ReferenceServer {
  url: string;
  process: ManagedProcess;
}

/**
 * nginx with the front's own worker and file settings (nginx.conf: worker_processes auto, sendfile,
 * tcp_nopush, keepalive, an access log), serving `dir` as static files: the ceiling for a cache hit here.
 */
export async function startStaticNginx(options: {
  program: string;
  dir: string;
  work: string;
  port: number;
  sink: LineSink;
}): Promise<ReferenceServer> {
  const logs = path.join(options.work, 'logs');
  for (const folder of [options.work, path.join(options.work, 'temp'), logs]) await mkdir(folder, { recursive: true, mode: 0o755 });
  const ids = await unprivilegedIds();
  if (ids) for (const folder of [options.work, path.join(options.work, 'temp'), logs]) await chown(folder, ids.uid, ids.gid);
  const temp = (name: string) => `${name}_temp_path ${path.join(options.work, 'temp', name)};`;
  const config = `daemon off;
worker_processes auto;
pid ${path.join(options.work, 'nginx.pid')};
events { worker_connections 4096; }
http {
    default_type application/octet-stream;
    types { audio/mpeg mp3; }
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;
    ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n    ')}
    access_log ${path.join(logs, 'access.log')};
    server {
        listen 127.0.0.1:${options.port};
        root ${options.dir};
    }
}
`;
  const configFile = path.join(options.work, 'nginx.conf');
  await writeFile(configFile, config);
  const child = startProcess({
    name: 'static-nginx',
    command: options.program,
    args: ['-p', options.work, '-c', configFile, '-e', path.join(logs, 'error.log')],
    ...ids,
    stopSignal: 'SIGQUIT',
    sink: options.sink,
  });
  const url = `http://127.0.0.1:${options.port}`;
  await untilAnswering(url, child);
  return { url, process: child };
}

/** The naive service (test/bench/naive-server.ts, built into dist/), on `port`. */
export async function startNaiveServer(options: {
  mediaRoot: string;
  ffmpegPath: string;
  port: number;
  sink: LineSink;
}): Promise<ReferenceServer> {
  const child = startProcess({
    name: 'naive',
    command: process.execPath,
    args: [path.join(PROJECT_ROOT, 'dist', 'test', 'bench', 'naive-server.js')],
    env: { ...process.env, PORT: String(options.port), MEDIA_ROOT: options.mediaRoot, FFMPEG_PATH: options.ffmpegPath },
    sink: options.sink,
  });
  const url = `http://127.0.0.1:${options.port}`;
  await untilAnswering(url, child);
  return { url, process: child };
}

/** Polls until the server answers anything (a 404 will do); fails if its process ends first or after 20 s. */
async function untilAnswering(url: string, owner: ManagedProcess): Promise<void> {
  let exited = false;
  void owner.exited.then(() => (exited = true));
  const deadline = Date.now() + 20_000;
  while (!exited && Date.now() < deadline) {
    if (
      await fetch(url).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${owner.name} did not start answering at ${url}`);
}

/**
 * The worker's ffmpeg command for `spec`, run alone (no Node work around it): its wall time in ms. The
 * arguments are the worker's own (buildRenderArguments), in the order fluent-ffmpeg gives them; `stdin`,
 * an exact render's span (render/span-stream.ts), is piped in as the worker does.
 */
export async function timeBareFfmpeg(
  ffmpegPath: string,
  input: RenderInput,
  output: string,
  spec: RenderSpec,
  stdin?: Readable,
): Promise<number> {
  const { inputs, outputOptions } = buildRenderArguments(spec, input);
  const args = [...inputs.flatMap(({ url, options }) => [...options, '-i', url]), '-y', ...outputOptions, output];
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = execFile(ffmpegPath, args, (error, _out, stderr) =>
      error ? reject(new Error(`bare ffmpeg failed: ${stderr || error.message}`)) : resolve(),
    );
    if (stdin && child.stdin) stdin.pipe(child.stdin);
  });
  return performance.now() - started;
}

/** `ffmpeg -ss S -i SOURCE -t LENGTH -c copy OUTPUT`, as a user would cut by hand: its wall time in ms. */
export async function timePlainFfmpegCopy(
  ffmpegPath: string,
  input: string,
  output: string,
  startMs: number,
  lengthMs: number,
): Promise<number> {
  const args = [
    '-v',
    'error',
    '-y',
    '-ss',
    (startMs / 1000).toFixed(3),
    '-i',
    input,
    '-t',
    (lengthMs / 1000).toFixed(3),
    '-c',
    'copy',
    output,
  ];
  return timeFfmpeg(ffmpegPath, args);
}

/** One ffmpeg run as a user would type it: its wall time in ms. */
async function timeFfmpeg(ffmpegPath: string, args: string[]): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    execFile(ffmpegPath, args, (error, _out, stderr) =>
      error ? reject(new Error(`plain ffmpeg failed: ${stderr || error.message}`)) : resolve(),
    );
  });
  return performance.now() - started;
}

/**
 * `ffmpeg -i SOURCE -f s16le /dev/null`: the whole source decoded to 16-bit PCM and thrown away, the least a
 * waveform of it costs (the peaks job decodes the same way, into a pipe its binning reads): wall time in ms.
 */
export function timePlainPcmDecode(ffmpegPath: string, input: string): Promise<number> {
  return timeFfmpeg(ffmpegPath, ['-v', 'error', '-nostdin', '-y', '-i', input, '-c:a', 'pcm_s16le', '-f', 's16le', '/dev/null']);
}
