// Owns removing entries from the nginx cache by key, which open-source nginx cannot do itself (its purge is
// a commercial module). Each cache file (proxy_cache_path levels=1:2: cache/<c>/<cc>/<md5 of the key>) opens
// with nginx's binary header and then a "\nKEY: <key>\n" line; the key here is $request_uri (nginx.conf).
// A removed file is a MISS on the next request: nginx finds its index entry's file gone and asks upstream.
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

const KEY_MARK = Buffer.from('\nKEY: ');
/** nginx's header is a few hundred bytes and the key a URI nginx accepts (4 KB at most here). */
const HEAD_BYTES = 16 * 1024;
/** Final cache files are named by the key's MD5; temp files (a response being written) are not. */
const CACHE_FILE = /^[0-9a-f]{32}$/;

/** The key recorded in an open cache file, or null when it has none (not a cache file, or cut short). */
async function readCacheKey(handle: FileHandle): Promise<string | null> {
  const head = Buffer.alloc(HEAD_BYTES);
  const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
  const start = head.subarray(0, bytesRead).indexOf(KEY_MARK);
  if (start < 0) return null;
  const end = head.indexOf(0x0a, start + KEY_MARK.length);
  return end < 0 || end >= bytesRead ? null : head.subarray(start + KEY_MARK.length, end).toString('utf8');
}

/**
 * Removes one cache file if its key passes `doomed`; false when it does not, or nginx removed it meanwhile
 * (its own eviction). Unlinking alone is not enough: nginx's open_file_cache keeps serving a file it holds
 * open (up to open_file_cache_valid, 30 s here), deleted or not. So the header's first field, nginx's cache
 * format version (ngx_http_file_cache_header_t.version, a machine word), is zeroed first: a held descriptor
 * then reads a "version mismatch", which nginx treats as a MISS (logged at info; a truncated file would log
 * crit).
 */
async function removeIfDoomed(file: string, doomed: (key: string) => boolean): Promise<boolean> {
  const handle = await open(file, 'r+').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!handle) return false;
  try {
    const key = await readCacheKey(handle);
    if (key === null || !doomed(key)) return false;
    await handle.write(Buffer.alloc(8), 0, 8, 0);
  } finally {
    await handle.close();
  }
  await rm(file, { force: true });
  return true;
}

async function cacheFiles(dir: string, depth: number): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && depth > 0) files.push(...(await cacheFiles(full, depth - 1)));
    else if (entry.isFile() && CACHE_FILE.test(entry.name)) files.push(full);
  }
  return files;
}

/** Removes every cache file whose key passes `doomed`; returns how many. A missing cache folder is empty. */
export async function removeCacheEntries(cacheDir: string, doomed: (key: string) => boolean): Promise<number> {
  let removed = 0;
  // levels=1:2 puts files two folders down; one more level of slack costs nothing.
  for (const file of await cacheFiles(cacheDir, 3)) {
    if (await removeIfDoomed(file, doomed)) removed += 1;
  }
  return removed;
}
