// Owns what a SIGNING_KEY rotation does to the nginx cache. nginx keys its cache by the request URI, the
// signature included, and cannot check a signature: after a rotation it would keep answering the old
// key's URLs from its cache for CACHE_MAX_AGE_SECONDS. So before nginx starts, a cache filled under
// another key (or under none) is emptied. The key itself is never written: only a fingerprint of it.
// What the service cannot reach stays: a CDN or browser after nginx keeps an answer for its max-age.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { signingKeyFingerprint } from '../segments/url-signature.js';
import { removeCacheEntries } from './nginx-cache.js';

/**
 * Empties `cacheDir` when it was filled under another signing key than `signingKey` (or when which one is
 * unknown, as after an upgrade), then records the key's fingerprint in `recordFile`. Returns how many
 * entries it removed. Call it before nginx starts: nginx only reads what it finds on disk.
 */
export async function forgetCacheOfOtherKeys(options: {
  cacheDir: string;
  recordFile: string;
  signingKey: string | undefined;
}): Promise<number> {
  const current = signingKeyFingerprint(options.signingKey);
  const recorded = await readFile(options.recordFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (recorded?.trim() === current) return 0;
  const removed = await removeCacheEntries(options.cacheDir, () => true);
  await mkdir(path.dirname(options.recordFile), { recursive: true });
  await writeFile(options.recordFile, `${current}\n`);
  return removed;
}
