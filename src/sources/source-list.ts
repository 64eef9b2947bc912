// Owns the list of sources below MEDIA_ROOT (GET /sources): a bounded walk for `*.mp3` names, each then
// asked of the catalog exactly as a request for it would be, so safety (resolveSource) and probing stay
// in one place. Symlinks that leave the root are not listed; files that fail probing are, with the reason.
import { BadRequest, SourceNotFound, Unprocessable } from '../errors.js';
import { parseSourcePath, sourcePathFor } from '../segments/segment-url.js';
import type { Catalog, SourceFacts } from './catalog.js';
import { realMediaRoot } from './resolve-source.js';
import { walkSourceNames, type WalkLimits } from './source-walk.js';

/** One listed source: its facts, or why it cannot be served (the detail a request for it would get). */
export type ListedSource = { source: string[]; facts: SourceFacts } | { source: string[]; error: string };

export interface SourceListing {
  sources: ListedSource[];
  /** True when the walk stopped at a limit and there may be more sources. */
  truncated: boolean;
}

export interface SourceList {
  list(): Promise<SourceListing>;
}

/**
 * The list when sources live on an HTTP origin (MEDIA_ORIGIN): empty. Plain HTTP has no listing, and one
 * of an object store's own (S3's ListObjects) would tie the service to one vendor; the operator's own
 * catalogue names the sources, and each is served by its path as usual.
 */
export const ORIGIN_SOURCE_LIST: SourceList = {
  list: async () => ({ sources: [], truncated: false }),
};

/** At most 1000 `*.mp3` names looked at, and at most 20 000 directory entries read to find them. */
export const DEFAULT_LIST_LIMITS: WalkLimits = { maxSources: 1000, maxEntries: 20_000 };
/** New sources probed at once: a first listing of many files must not fork one ffprobe per file. */
const PROBE_CONCURRENCY = 4;

export async function createSourceList(deps: { mediaRoot: string; catalog: Catalog; limits?: WalkLimits }): Promise<SourceList> {
  const root = await realMediaRoot(deps.mediaRoot);

  async function listOne(source: string[]): Promise<ListedSource | null> {
    try {
      // A name no URL can spell ('.', a backslash, a control character) is refused by the URL parser's rules.
      parseSourcePath(sourcePathFor(source));
      return { source, facts: await deps.catalog.describe(source) };
    } catch (error) {
      if (error instanceof Unprocessable) return { source, error: error.detail };
      // Not a source: a symlink that leaves the root or dangles, a name no URL can spell.
      if (error instanceof SourceNotFound || error instanceof BadRequest) return null;
      throw error;
    }
  }

  return {
    async list() {
      const walked = await walkSourceNames(root, deps.limits ?? DEFAULT_LIST_LIMITS);
      const listed = await mapBounded(walked.sources, PROBE_CONCURRENCY, listOne);
      return { sources: listed.filter((entry): entry is ListedSource => entry !== null), truncated: walked.truncated };
    },
  };
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  async function lane() {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index] as T);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
