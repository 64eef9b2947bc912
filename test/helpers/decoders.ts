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

export type PcmDecoder = 'ffmpeg' | 'mpg123' | 'mpg123-no-gapless';

/**
 * Runs a decoder to 16-bit PCM (interleaved, the file's own channels). Returns every sample it wrote, or
 * with `windows` (in bytes of PCM: [start, end)) only those parts, so an hour-long source is never held
 * whole; `total` is the PCM's whole length in bytes either way.
 */
export function decodePcm(
  file: string,
  decoder: PcmDecoder,
  windows: Array<[number, number]> = [[0, Number.POSITIVE_INFINITY]],
): Promise<{ parts: Int16Array[]; total: number }> {
  const [command, args] =
    decoder === 'ffmpeg'
      ? [ffmpegInstaller.path, ['-v', 'error', '-i', file, '-f', 's16le', '-acodec', 'pcm_s16le', '-']]
      : [requireProgram('mpg123', 'mpg123'), ['-q', '-s', '-e', 's16', ...(decoder === 'mpg123' ? [] : ['--no-gapless']), file]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const kept: Buffer[][] = windows.map(() => []);
    let at = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      windows.forEach(([start, end], i) => {
        const from = Math.max(start, at);
        const to = Math.min(end, at + chunk.length);
        if (to > from) kept[i]!.push(Buffer.from(chunk.subarray(from - at, to - at)));
      });
      at += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${decoder} failed (${code}) on ${file}: ${stderr.slice(-300)}`));
      const parts = kept.map((buffers) => {
        const bytes = Buffer.concat(buffers);
        return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
      });
      resolve({ parts, total: at });
    });
  });
}
