// The bench's baseline: what a team builds first. Each GET /segments/<source>/<start>-<end>.mp3 runs ffmpeg
// inside the request and pipes its output to the client: no queue, no store, no cache, no limit. Honest,
// not crippled: a stream copy with ffmpeg's own seek (what the product did before its frame index), the
// bundled ffmpeg, keep-alive on.
//   PORT=8090 MEDIA_ROOT=fixtures/media node dist/test/bench/naive-server.js
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

const port = Number(process.env.PORT ?? 8090);
const mediaRoot = path.resolve(process.env.MEDIA_ROOT ?? 'fixtures/media');
const ffmpegPath = process.env.FFMPEG_PATH ?? ffmpegInstaller.path;
const SEGMENT = /^\/segments\/(.+)\/(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\.mp3$/;

async function answer(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const match = SEGMENT.exec(decodeURIComponent((request.url ?? '').split('?')[0]!));
  if (request.method !== 'GET' || !match) return void response.writeHead(404).end();
  const [, source, start, end] = match as unknown as [string, string, string, string];
  if (source.split('/').includes('..') || Number(end) <= Number(start)) return void response.writeHead(400).end();
  const file = path.join(mediaRoot, `${source}.mp3`);
  if (
    !(await stat(file).then(
      (info) => info.isFile(),
      () => false,
    ))
  )
    return void response.writeHead(404).end();

  const duration = (Number(end) - Number(start)).toFixed(3);
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-ss',
    start,
    '-t',
    duration,
    '-i',
    file,
    '-map',
    '0:a',
    '-c:a',
    'copy',
    '-map_metadata',
    '-1',
    '-f',
    'mp3',
    'pipe:1',
  ];
  const ffmpeg = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let sent = false;
  ffmpeg.stdout.once('data', () => {
    sent = true;
    response.writeHead(200, { 'content-type': 'audio/mpeg' });
  });
  // Ended here, not by the pipe: an ffmpeg that fails before its first byte is a 500, not an empty 200.
  ffmpeg.stdout.pipe(response, { end: false });
  response.on('close', () => ffmpeg.kill('SIGKILL'));
  ffmpeg.on('close', (code) => {
    if (sent) response.end();
    else response.writeHead(code === 0 ? 200 : 500).end();
  });
}

const server = http.createServer((request, response) => {
  answer(request, response).catch(() => {
    if (!response.headersSent) response.writeHead(500);
    response.end();
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${port}\n`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
