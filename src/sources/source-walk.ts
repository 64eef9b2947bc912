// Owns finding the names of candidate sources below the media root: a bounded, async walk that yields
// each `*.mp3` name as its source path segments. It decides nothing about safety: every candidate still
// goes through resolveSource (symlinks followed, must stay inside the root) before anyone sees it.
import { opendir } from 'node:fs/promises';
import path from 'node:path';

export interface WalkLimits {
  /** Stop after this many `*.mp3` names, whether or not they turn out to be servable sources. */
  maxSources: number;
  /** Stop after reading this many directory entries in all, so a huge tree costs a bounded walk. */
  maxEntries: number;
}

export interface WalkResult {
  /** Source path segments (without `.mp3`), in name order, folders depth first. */
  sources: string[][];
  /** True when a limit stopped the walk before the whole tree was seen. */
  truncated: boolean;
}

export async function walkSourceNames(realRoot: string, limits: WalkLimits): Promise<WalkResult> {
  const sources: string[][] = [];
  let entriesLeft = limits.maxEntries;
  let truncated = false;

  async function visit(segments: string[]): Promise<void> {
    const names: { name: string; folder: boolean }[] = [];
    const dir = await opendir(path.join(realRoot, ...segments)).catch(() => null);
    if (!dir) return; // unreadable or gone since its parent was read: nothing to list
    for await (const entry of dir) {
      if (entriesLeft-- <= 0) {
        truncated = true;
        break; // breaking out of for-await closes the directory handle
      }
      // Only real folders are walked: a symlinked folder could lead outside the root or into a cycle.
      // Files and symlinks named *.mp3 are candidates; resolveSource decides where they really point.
      // The extension is matched exactly: the URL names `{source}.mp3`, so `X.MP3` could not be asked for.
      if (entry.isDirectory()) names.push({ name: entry.name, folder: true });
      else if ((entry.isFile() || entry.isSymbolicLink()) && entry.name.endsWith('.mp3') && entry.name !== '.mp3') {
        names.push({ name: entry.name.slice(0, -'.mp3'.length), folder: false });
      }
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const { name, folder } of names) {
      if (sources.length >= limits.maxSources) {
        truncated = true;
        return;
      }
      if (folder) await visit([...segments, name]);
      else sources.push([...segments, name]);
    }
  }

  await visit([]);
  return { sources, truncated };
}
