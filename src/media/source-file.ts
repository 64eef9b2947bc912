// Owns a source file as the media code sees it: its real path, size and mtime, and the one string that
// names this version of it (a replaced file has a new size or mtime, hence a new version).
export interface SourceFile {
  /** Real absolute path of the file. */
  file: string;
  size: number;
  mtimeMs: number;
}

/** One string per version of a file: caches of what was read from it (probes, frame indexes) key on it. */
export function fileVersion(source: SourceFile): string {
  return `${source.file}\0${source.size}\0${source.mtimeMs}`;
}
