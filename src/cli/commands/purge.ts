// `segments purge <source>`: removes every render of a source from the render store and every cached answer
// for it from the nginx cache, so that after a source file is replaced the next request renders it anew.
// Store first: a request between the two steps then misses in the store, never re-caches old bytes.
import type { Config } from '../../config.js';
import { nginxCacheDir, storeDir } from '../../data-layout.js';
import { connectRedis } from '../../queue/redis-connection.js';
import { SEGMENTS_PREFIX, sourcePathFor } from '../../segments/segment-url.js';
import { removeCacheEntries } from '../../stack/nginx-cache.js';
import { createRenderStore, type RenderStore } from '../../store/render-store.js';
import { createStoreBudget } from '../../store/store-budget.js';
import { asCliErrors, CliError, EXIT, type Command } from '../command.js';
import { readArgs } from '../parse-args.js';
import { parseCliSource } from '../segment-args.js';

const USAGE = `Usage: segments purge <source>

Removes every render of <source> (its path below MEDIA_ROOT as on disk, without .mp3) from the render store
(DATA_DIR/store) and every cached answer for it from the nginx cache (DATA_DIR/nginx/cache), and prints how
many of each were removed. Run it after replacing or deleting the source file; the source need not exist.
With REDIS_URL set, the store's byte count in Redis is lowered by what was removed (without it, the next
budget pass or worker start recounts the store). Run it as the user nginx and the workers run as, or root.

Example:
  segments purge demo/tones`;

/** How long to try Redis for the byte count; the files are gone either way. */
const REDIS_TIMEOUT_MS = 3_000;

/** True for every cached URI of this source's segments: /segments/<source>/<start>-<end>.mp3[?...]. */
export function isSegmentKeyOf(encodedSource: string, key: string): boolean {
  const prefix = `${SEGMENTS_PREFIX}${encodedSource}/`;
  // Only the last path segment may follow: demo/tones must not take demo/tones/more (a folder beside it).
  return key.startsWith(prefix) && !key.slice(prefix.length).split('?', 1)[0]!.includes('/');
}

async function uncount(config: Config, store: RenderStore, bytes: number): Promise<string> {
  if (!config.redisUrl) return 'REDIS_URL is not set: the store byte count is recounted by the next budget pass';
  const redis = connectRedis(config.redisUrl, 'blocking', 'segments-purge');
  redis.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const budget = createStoreBudget({ store, redis, maxBytes: config.storeMaxBytes, graceMs: config.storeEvictGraceMs });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${REDIS_TIMEOUT_MS} ms`)), REDIS_TIMEOUT_MS);
    });
    await Promise.race([budget.removed(bytes), timeout]);
    return `store byte count in Redis lowered by ${bytes}`;
  } catch (error) {
    return `Redis at REDIS_URL could not be updated (${(error as Error).message}): the store byte count is recounted by the next budget pass`;
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

function fileProblem(error: unknown): never {
  const { code, path } = error as NodeJS.ErrnoException;
  if (code === 'EACCES' || code === 'EPERM')
    throw new CliError(`permission denied on ${path}: run purge as the user nginx and the workers run as, or root.`, EXIT.config);
  throw error;
}

export const purgeCommand: Command = {
  name: 'purge',
  summary: "remove a source's renders from the store and the nginx cache",
  usage: USAGE,
  async run(args, context) {
    const { positionals } = readArgs(args, { name: 'purge', options: {}, positionals: [1, 1] });
    const encoded = sourcePathFor(await asCliErrors(() => parseCliSource(positionals[0]!)));
    const config = context.config();
    const store = createRenderStore({ dir: storeDir(config.dataDir) });
    const renders = await store.removeSource(encoded).catch(fileProblem);
    const cached = await removeCacheEntries(nginxCacheDir(config.dataDir), (key) => isSegmentKeyOf(encoded, key)).catch(fileProblem);
    context.print(`removed ${renders.removed} render(s) (${renders.bytes} bytes) from ${store.dir}`);
    context.print(`removed ${cached} nginx cache entr${cached === 1 ? 'y' : 'ies'} from ${nginxCacheDir(config.dataDir)}`);
    if (renders.bytes > 0) context.print(await uncount(config, store, renders.bytes));
  },
};
