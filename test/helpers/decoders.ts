// Decoders that are not the service's: Debian's mpg123 (gapless-aware: it reads the LAME tag and trims
// encoder delay and padding) for lengths, and ffmpeg with -xerror for "decodes without a single error".
import { spawn } from 'node:child_process';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { requireProgram } from './system-programs.js';

function run(command: string, args: string[]): Promise<{ code: number | null; stdoutBytes: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdoutBytes += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdoutBytes, stderr }));
  });
}

/** Samples a gapless-aware decoder (mpg123) plays from the file, per channel. */
export async function gaplessSamples(file: string, channels: number): Promise<number> {
  const mpg123 = requireProgram('mpg123', 'mpg123');
  const { code, stdoutBytes, stderr } = await run(mpg123, ['-q', '-s', '-e', 's16', file]);
  if (code !== 0) throw new Error(`mpg123 failed (${code}): ${stderr.slice(-300)}`);
  return stdoutBytes / 2 / channels;
}

/** Samples ffmpeg's decoder gives (also gapless when the LAME tag is there), per channel. */
export async function ffmpegSamples(file: string, channels: number): Promise<number> {
  const { code, stdoutBytes, stderr } = await run(ffmpegInstaller.path, [
    '-v',
    'error',
    '-i',
    file,
    '-f',
    's16le',
    '-acodec',
    'pcm_s16le',
    '-',
  ]);
  if (code !== 0) throw new Error(`ffmpeg decode failed: ${stderr.slice(-300)}`);
  return stdoutBytes / 2 / channels;
}

/** Resolves when ffmpeg decodes every frame with -xerror (stop at the first error) and prints nothing. */
export async function decodesCleanly(file: string): Promise<string | null> {
  const { code, stderr } = await run(ffmpegInstaller.path, ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);
  return code === 0 && stderr.trim() === '' ? null : `ffmpeg -xerror: exit ${code}: ${stderr.trim().slice(-300)}`;
}
