// Owns the frame indexes a process uses: one per source file identity (path, size, mtime), built once
// (a walk of the whole file) and kept in memory, bounded in bytes, and on disk beside the render store
// (DATA_DIR/store/indexes), so every worker, the API, a restart and every machine that mounts the store
// share one build. A replaced file has a new size or mtime: its record no longer matches and is rebuilt
// in place; a damaged record (CRC, layout version) likewise.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { type DecodeSpan, decodeSpan } from '../media/decode-span.js';
import { cutFrames, type FrameCut, type FrameIndex, readFrameIndex } from '../media/frame-index.js';
import { decodeFrameIndex, encodeFrameIndex } from '../media/frame-index-file.js';
import { fileVersion, isRemote, type SourceFile } from '../media/source-file.js';
import { localReaders, type SourceReaders } from '../media/source-reader.js';
import { copyLengthMs, exactSampleCount, type RenderSpec, sampleAt } from './render-spec.js';

export interface FrameIndexes {
  /**
   * The frames a copy of `spec` keeps, or null when the source is not a clean frame chain (ffmpeg seeks).
   * Which of the two a source gets depends on its bytes only, never on the memory bound: the two ways
   * write the same audio frames but not the same info frame, and one key must always mean the same bytes.
   */
  cutFor(source: SourceFile, spec: RenderSpec): Promise<FrameCut | null>;
  /**
   * The bytes an exact render of `spec` decodes and where its samples are in their decode (decode-span.ts),
   * or null when the source is not a clean frame chain (ffmpeg seeks in it).
   * Like cutFor, which of the two depends on the source's bytes only.
   */
  spanFor(source: SourceFile, spec: RenderSpec): Promise<DecodeSpan | null>;
  /** The source's index, or null when it is not a clean frame chain. */
  indexFor(source: SourceFile): Promise<FrameIndex | null>;
  /** What the sources' bytes are read through (source-reader.ts): a copy cut reads its ranges through it too. */
  readonly readers: SourceReaders;
}

/** A source that is not a clean chain is remembered as such (a small entry), so it is walked only once. */
const NOT_INDEXABLE_BYTES = 64;

/**
 * The record of a source's index in `dir`: named by its path, so a replaced file's record is overwritten
 * (the record checks size and mtime). An origin source's is named by URL and ETag too, which the record
 * does not hold: a replaced object of the same size and Last-Modified still gets its own record.
 */
function recordOf(dir: string, source: SourceFile): string {
  const name = isRemote(source) ? `${source.file}\0${source.validator}` : source.file;
  return path.join(dir, `${createHash('sha256').update(name).digest('hex').slice(0, 40)}.idx`);
}

/** The source's index from its record in `dir`, or built and recorded (best effort: a failed write only costs a later walk). */
async function loadOrBuild(dir: string | undefined, source: SourceFile, readers: SourceReaders): Promise<FrameIndex | null> {
  if (!dir) return readFrameIndex(source, readers);
  const record = recordOf(dir, source);
  const stored = await readFile(record).then(
    (bytes) => decodeFrameIndex(bytes, source),
    () => undefined,
  );
  if (stored !== undefined) return stored;
  const built = await readFrameIndex(source, readers);
  // Written whole under a temporary name, then renamed: a reader sees the old record or the new one.
  const temp = `${record}.${randomUUID()}.tmp`;
  await mkdir(dir, { recursive: true })
    .then(() => writeFile(temp, encodeFrameIndex(built, source)))
    .then(() => rename(temp, record))
    .catch(() => rm(temp, { force: true }));
  return built;
}

/**
 * `maxBytes` bounds the indexes kept in memory; one that does not fit is read again (from its record, or
 * by a walk without `dir`) for each use. `dir`: where records are kept.
 */
export function createFrameIndexes(options: { maxBytes: number; dir?: string; readers?: SourceReaders }): FrameIndexes {
  const readers = options.readers ?? localReaders;
  const indexes = new LRUCache<string, Promise<FrameIndex | null>>({
    maxSize: Math.max(1, options.maxBytes),
    // While an index is being built (and for a source that has none) its entry counts as small; a built
    // index is set again with its real size.
    sizeCalculation: () => NOT_INDEXABLE_BYTES,
  });
  async function indexFor(source: SourceFile): Promise<FrameIndex | null> {
    const id = fileVersion(source);
    let index = indexes.get(id);
    if (!index) {
      index = loadOrBuild(options.dir, source, readers);
      indexes.set(id, index);
      // A read that fails (the file went away) is not remembered: the job's retry walks it again.
      const built = await index.catch((error: unknown) => {
        indexes.delete(id);
        throw error;
      });
      // Re-set with its true size, so the byte bound holds (an index is 8 bytes per frame).
      if (built) indexes.set(id, index, { size: Math.max(NOT_INDEXABLE_BYTES, built.offsets.byteLength) });
    }
    return index;
  }
  return {
    indexFor,
    readers,
    async cutFor(source, spec) {
      // ffmpeg's concat protocol splits its list on '|' (render-args.ts): such a path is cut by ffmpeg's seek.
      // An origin source's rare frame cut is ffmpeg's seek over HTTP too: subfile reads local files only.
      if (source.file.includes('|') || isRemote(source)) return null;
      const built = await indexFor(source);
      return built && built.sampleRate === spec.sampleRate ? cutFrames(built, spec.startMs, copyLengthMs(spec)) : null;
    },
    async spanFor(source, spec) {
      const built = await indexFor(source);
      if (!built || built.sampleRate !== spec.sampleRate) return null;
      return decodeSpan(built, sampleAt(spec.startMs, spec.sampleRate), exactSampleCount(spec));
    },
  };
}
