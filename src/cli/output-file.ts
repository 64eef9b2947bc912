// Owns where a segment the CLI fetches or renders goes: a file, written to a temp file beside it and renamed
// (a failed run leaves no partial file), or stdout ('-'), copied from a temp file (ffmpeg writes the MP3's
// Info header only into a seekable output, so a render never goes straight into a pipe).
import { createReadStream } from 'node:fs';
import { access, constants, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CliError, EXIT } from './command.js';

export const STDOUT = '-';

function cannotWrite(target: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  // "ENOENT: no such file or directory, access '/x'" → "no such file or directory (ENOENT)"
  const reason = (error as Error).message.replace(/^\w+: /, '').split(',')[0];
  return code && (error as NodeJS.ErrnoException).syscall
    ? new CliError(`cannot write '${target}': ${reason} (${code})`, EXIT.input)
    : error;
}

/** Runs `fill` on a temp file, then puts its bytes at `target` (a path, or '-' for stdout). */
export async function deliver(target: string, fill: (tempFile: string) => Promise<void>): Promise<void> {
  if (target === STDOUT) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'segments-'));
    try {
      const temp = path.join(dir, 'segment.mp3');
      await fill(temp);
      await pipeline(createReadStream(temp), process.stdout, { end: false }).catch((error: NodeJS.ErrnoException) => {
        // The reader went away (`-o - | head`): it took what it wanted, which is not a failure.
        if (error.code !== 'EPIPE') throw error;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return;
  }
  // Checked first: a render into a folder that is not there would fail as if the source were bad.
  await access(path.dirname(target), constants.W_OK).catch((error: unknown) => {
    throw cannotWrite(target, error);
  });
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.part`);
  try {
    await fill(temp);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw cannotWrite(target, error);
  }
}
