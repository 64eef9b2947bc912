// The one module that runs ffmpeg, on the real bundled binaries: its failures are typed, never crashes.
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import ffprobeInstaller from '@ffprobe-installer/ffprobe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import {
  createMediaTools,
  ensureExecutable,
  FfmpegFailed,
  ToolPassingFault,
  FfmpegTimedOut,
  ToolNotExecutable,
  type MediaTools,
  STDIN_URL,
} from '../../src/media/ffmpeg.js';
import { buildRenderArguments } from '../../src/render/render-args.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import { API_ENTRY } from '../../src/stack/stack.js';
import { descendantsOf, eventually } from '../helpers/test-stack.js';

const tones = path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo', 'tones.mp3');
let media: MediaTools;
let dir: string;
beforeAll(async () => {
  media = await createMediaTools();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-media-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('media tools', () => {
  it('probe reports the facts of an MP3 source', async () => {
    const facts = await media.probe(tones);
    expect(facts).toMatchObject({ codecName: 'mp3', sampleRate: 44100, channels: 2, bitRate: 48000 });
    expect(Math.round(facts.durationSeconds)).toBe(90);
  });

  it('probe of a file that is not audio rejects with FfmpegFailed', async () => {
    const text = path.join(dir, 'text.mp3');
    await writeFile(text, 'not audio at all\n'.repeat(100));
    await expect(media.probe(text)).rejects.toBeInstanceOf(FfmpegFailed);
  });

  it('a render writes a checked MP3 file (with its Xing header: ffmpeg needs a seekable output)', async () => {
    const output = path.join(dir, 'copy.mp3');
    await media.render(
      output,
      buildRenderArguments({ startMs: 1000, endMs: 4000, sampleRate: 44100, options: { mode: 'copy' } }, { file: tones }),
      { timeoutMs: 30_000 },
    );
    const mp3 = readMp3(await readFile(output));
    expect(mp3.info?.kind).toBe('Info');
    expect(mp3.info?.frames).toBe(mp3.audioFrames.length);
    expect(Math.abs(mp3.durationSeconds - 3)).toBeLessThanOrEqual(3 * (1152 / 44100));
  });

  it('the same render twice gives the same bytes (bit-exact output)', async () => {
    const args = buildRenderArguments(
      {
        startMs: 2000,
        endMs: 5000,
        sampleRate: 44100,
        options: { mode: 'exact', bitrateKbps: 96, channels: null, fadeInMs: 500, fadeOutMs: 0 },
      },
      { file: tones },
    );
    const [a, b] = [path.join(dir, 'a.mp3'), path.join(dir, 'b.mp3')];
    await media.render(a, args, { timeoutMs: 30_000 });
    await media.render(b, args, { timeoutMs: 30_000 });
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
  });

  it('an ffmpeg past its time limit is killed and rejects with FfmpegTimedOut', async () => {
    const output = path.join(dir, 'slow.mp3');
    const args = buildRenderArguments(
      {
        startMs: 0,
        endMs: 90_000,
        sampleRate: 44100,
        options: { mode: 'exact', bitrateKbps: 320, channels: null, fadeInMs: 0, fadeOutMs: 0 },
      },
      { file: tones },
    );
    await expect(media.render(output, args, { timeoutMs: 50 })).rejects.toBeInstanceOf(FfmpegTimedOut);
  });

  it('a time limit that runs out before fluent-ffmpeg has spawned ffmpeg still kills it', async () => {
    const args = buildRenderArguments(
      {
        startMs: 0,
        endMs: 90_000,
        sampleRate: 44100,
        options: { mode: 'exact', bitrateKbps: 320, channels: null, fadeInMs: 0, fadeOutMs: 0 },
      },
      { file: tones },
    );
    const rendering = media.render(path.join(dir, 'early.mp3'), args, { timeoutMs: 1 }).catch((e: unknown) => e);
    // Hold the event loop past the 1 ms, as a loaded machine would: the timer then fires in the next loop turn,
    // while fluent-ffmpeg is still a few setImmediate hops away from spawning.
    const holdUntil = performance.now() + 10;
    while (performance.now() < holdUntil);
    expect(await rendering).toBeInstanceOf(FfmpegTimedOut);
    expect(await descendantsOf(process.pid)).toEqual([]);
  });

  it('an ffmpeg stopped by SIGTERM (it exits 255 by itself) rejects with ToolPassingFault, not as a bad source', async () => {
    const args = buildRenderArguments(
      {
        startMs: 0,
        endMs: 90_000,
        sampleRate: 44100,
        options: { mode: 'exact', bitrateKbps: 320, channels: null, fadeInMs: 0, fadeOutMs: 0 },
      },
      { file: tones },
    );
    const rendering = media.render(path.join(dir, 'stopped.mp3'), args, { timeoutMs: 30_000 }).catch((e: unknown) => e);
    const ffmpegPid = await eventually(async () => (await descendantsOf(process.pid))[0], 'ffmpeg to start');
    process.kill(ffmpegPid, 'SIGTERM');
    expect(await rendering).toBeInstanceOf(ToolPassingFault);
  });

  it('ffmpeg failing on its input rejects with FfmpegFailed carrying stderr', async () => {
    const text = path.join(dir, 'junk.mp3');
    await writeFile(text, Buffer.alloc(5000, 7));
    const error = await media
      .render(
        path.join(dir, 'junk-out.mp3'),
        buildRenderArguments({ startMs: 0, endMs: 1000, sampleRate: 44100, options: { mode: 'copy' } }, { file: text }),
        { timeoutMs: 30_000 },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FfmpegFailed);
    expect((error as FfmpegFailed).stderrTail.length).toBeGreaterThan(0);
  });

  it('an input read from stdin that fails (an origin fault) rejects with its own error, not as a bad source, and stops ffmpeg', async () => {
    const originFault = new Error('the origin did not answer');
    const head = (await readFile(tones)).subarray(0, 20_000);
    const stdin = new Readable({ read() {} });
    stdin.push(head);
    const args = { inputs: [{ url: STDIN_URL, options: ['-nostdin', '-f', 'mp3'] }], outputOptions: ['-c:a', 'pcm_s16le', '-f', 's16le'] };
    const rendering = media.render(path.join(dir, 'stdin-fault.pcm'), args, { timeoutMs: 30_000 }, stdin).catch((e: unknown) => e);
    await eventually(async () => (await descendantsOf(process.pid))[0], 'ffmpeg to start');
    stdin.destroy(originFault);
    expect(await rendering).toBe(originFault);
    await eventually(async () => ((await descendantsOf(process.pid)).length === 0 ? true : undefined), 'ffmpeg to stop');
  });

  it('a bundled tool that cannot be made executable is a ToolNotExecutable naming its variable and the chmod to run', async () => {
    const missing = path.join(dir, 'no-such-ffprobe');
    const error = await ensureExecutable(missing, 'FFPROBE_PATH', { bundled: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolNotExecutable);
    expect((error as Error).message).toContain(`sudo chmod 755 ${missing}`);
    expect((error as Error).message).toContain('FFPROBE_PATH');
  });

  it('a configured tool this user cannot run is refused as it is, never made executable', async () => {
    const configured = path.join(dir, 'configured-ffprobe');
    await writeFile(configured, '#!/bin/sh\n', { mode: 0o644 });
    const error = await ensureExecutable(configured, 'FFPROBE_PATH', { bundled: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolNotExecutable);
    expect((error as Error).message).toContain('(EACCES)');
    expect(statSync(configured).mode & 0o777).toBe(0o644);
  });

  it('the API started with an ffprobe it cannot run exits 78 with one line naming the chmod and the variable, no stack trace', async () => {
    // As after `sudo npm ci` with the API run as another user: here, as any user, an FFPROBE_PATH without the x bit.
    const unrunnable = path.join(dir, 'unrunnable-ffprobe');
    await copyFile(ffprobeInstaller.path, unrunnable);
    await chmod(unrunnable, 0o644);
    const env = { PATH: process.env.PATH ?? '', REDIS_URL: 'redis://127.0.0.1:1', DATA_DIR: dir, FFPROBE_PATH: unrunnable };
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [API_ENTRY], { env, timeout: 20_000 }, (_, __, err) =>
        resolve({ code: child.exitCode, stderr: err }),
      );
    });
    expect(code).toBe(78);
    expect(stderr.trim().split('\n')).toEqual([
      `${unrunnable} cannot be run by this user (EACCES): run \`sudo chmod 755 ${unrunnable}\`, or set FFPROBE_PATH to one it can run`,
    ]);
  });
});
