// Owns a source file as the media code sees it: its real path (or its URL on the origin), size and mtime
// (or Last-Modified), the origin's validator, and the one string that names this version of it (a
// replaced file has a new size or mtime, a replaced object a new ETag: either way a new version).
export interface SourceFile {
  /** Real absolute path of the file; for a source on the HTTP origin, its URL. */
  file: string;
  size: number;
  /** The file's mtime; for an origin source, its Last-Modified (0 without one). */
  mtimeMs: number;
  /** Only for a source on the HTTP origin: its ETag ('' without one). Its presence says the source is remote. */
  validator?: string;
}

/** Whether the source is read from the HTTP origin (by Range requests) rather than from a local file. */
export function isRemote(source: Pick<SourceFile, 'validator'>): boolean {
  return source.validator !== undefined;
}

/** One string per version of a file: caches of what was read from it (probes, frame indexes) key on it. */
export function fileVersion(source: SourceFile): string {
  return `${source.file}\0${source.size}\0${source.mtimeMs}${isRemote(source) ? `\0${source.validator}` : ''}`;
}
