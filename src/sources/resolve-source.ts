// Owns the mapping from a decoded source path to a file below MEDIA_ROOT. The real path (symlinks
// followed) must stay inside the real MEDIA_ROOT and be a regular .mp3 file; anything else is "no such
// source", so the answer never reveals what lies outside the root. A lookup that could not be made (out of
// descriptors, an I/O error of a network MEDIA_ROOT) is a passing 503, never a 404.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { SourceNotFound, Unavailable } from '../errors.js';
import type { SourceFile } from '../media/source-file.js';
import { type SourcePath, sourceLabel } from '../segments/segment-url.js';

/** A source found below MEDIA_ROOT: the path it was asked by, and its file. */
export interface ResolvedSource extends SourceFile {
  path: SourcePath;
}

/** Errors that mean the path names nothing (or nothing reachable as a file): the source does not exist. */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENAMETOOLONG', 'EACCES']);

export async function realMediaRoot(mediaRoot: string): Promise<string> {
  return realpath(mediaRoot);
}

export async function resolveSource(realRoot: string, source: SourcePath): Promise<ResolvedSource> {
  const label = sourceLabel(source);
  const notFound = () => new SourceNotFound(`There is no source '${label}': no file ${label}.mp3 below the media root.`);
  // Segments are already free of '.', '..', slashes and NUL (segment-url.ts); join cannot climb out.
  const candidate = path.join(realRoot, ...source.slice(0, -1), `${source[source.length - 1]}.mp3`);
  /** A lookup's failure: no such file, or a fault of the machine that says nothing about the source. */
  const lookupFailure = (error: NodeJS.ErrnoException) =>
    error.code !== undefined && ABSENT.has(error.code)
      ? notFound()
      : new Unavailable(`The source '${label}' could not be looked up just now; retry shortly.`, 'renderFailed', { cause: error });
  let file: string;
  try {
    file = await realpath(candidate);
  } catch (error) {
    throw lookupFailure(error as NodeJS.ErrnoException);
  }
  if (!file.startsWith(realRoot + path.sep) || !file.toLowerCase().endsWith('.mp3')) throw notFound();
  const facts = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw lookupFailure(error);
  });
  if (!facts.isFile()) throw notFound();
  return { path: source, file, size: facts.size, mtimeMs: Math.trunc(facts.mtimeMs) };
}
