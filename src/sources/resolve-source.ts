// Owns the mapping from a decoded source path to a file below MEDIA_ROOT. The real path (symlinks
// followed) must stay inside the real MEDIA_ROOT and be a regular .mp3 file; anything else is "no such
// source", so the answer never reveals what lies outside the root.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { SourceNotFound } from '../errors.js';
import { sourcePathFor } from '../segments/segment-url.js';

/** One string per version of a file: its real path, size and mtime (a replaced file is a new version). */
export function sourceVersion(source: Pick<ResolvedSource, 'file' | 'size' | 'mtimeMs'>): string {
  return `${source.file}\0${source.size}\0${source.mtimeMs}`;
}

export interface ResolvedSource {
  /** Canonical source path as it appears in URLs (each segment percent-encoded), for logs and answers. */
  name: string;
  /** Real absolute path of the file. */
  file: string;
  size: number;
  mtimeMs: number;
}

export async function realMediaRoot(mediaRoot: string): Promise<string> {
  return realpath(mediaRoot);
}

export async function resolveSource(realRoot: string, source: readonly string[]): Promise<ResolvedSource> {
  const name = sourcePathFor(source);
  const notFound = () =>
    new SourceNotFound(`There is no source '${decodeURIComponent(name)}': no file ${decodeURIComponent(name)}.mp3 below the media root.`);
  // Segments are already free of '.', '..', slashes and NUL (segment-url.ts); join cannot climb out.
  const candidate = path.join(realRoot, ...source.slice(0, -1), `${source[source.length - 1]}.mp3`);
  let file: string;
  try {
    file = await realpath(candidate);
  } catch {
    throw notFound();
  }
  if (!file.startsWith(realRoot + path.sep) || !file.toLowerCase().endsWith('.mp3')) throw notFound();
  const facts = await stat(file).catch(() => null);
  if (!facts?.isFile()) throw notFound();
  return { name, file, size: facts.size, mtimeMs: Math.trunc(facts.mtimeMs) };
}
