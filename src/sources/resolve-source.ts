// Owns the mapping from a decoded source path to a file below MEDIA_ROOT. The real path (symlinks
// followed) must stay inside the real MEDIA_ROOT and be a regular .mp3 file; anything else is "no such
// source", so the answer never reveals what lies outside the root.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { SourceNotFound } from '../errors.js';
import type { SourceFile } from '../media/source-file.js';
import { type SourcePath, sourceLabel } from '../segments/segment-url.js';

/** A source found below MEDIA_ROOT: the path it was asked by, and its file. */
export interface ResolvedSource extends SourceFile {
  path: SourcePath;
}

export async function realMediaRoot(mediaRoot: string): Promise<string> {
  return realpath(mediaRoot);
}

export async function resolveSource(realRoot: string, source: SourcePath): Promise<ResolvedSource> {
  const label = sourceLabel(source);
  const notFound = () => new SourceNotFound(`There is no source '${label}': no file ${label}.mp3 below the media root.`);
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
  return { path: source, file, size: facts.size, mtimeMs: Math.trunc(facts.mtimeMs) };
}
