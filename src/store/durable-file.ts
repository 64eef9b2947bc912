// Owns making a published file survive a power loss: its bytes are flushed before it is renamed into place
// (else the rename can reach the disk first, leaving a zero-length or short file under the final name), and
// its folder after, so the rename itself is on disk before anyone is told the file exists (issue 14).
import { open } from 'node:fs/promises';

/** Flushes a file's bytes, or a folder's entries, to the disk. */
export async function flushToDisk(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `content` to a new file and flushes it to the disk before closing it. */
export async function writeFlushed(file: string, content: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
