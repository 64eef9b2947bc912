// Owns the worker's frame indexes: one per source file identity (path, size, mtime), built on the first
// copy render of a source and kept in memory, bounded in bytes, so later copies cut by byte offset. A
// replaced file has a new size or mtime, hence a new index; the old one ages out.
import { LRUCache } from 'lru-cache';
import { cutFrames, type FrameCut, type FrameIndex, readFrameIndex } from '../media/frame-index.js';
import { fileVersion, type SourceFile } from '../media/source-file.js';
import { copyLengthMs, type RenderSpec } from './render-spec.js';

export interface FrameIndexes {
  /**
   * The frames a copy of `spec` keeps, or null when the source is not a clean frame chain (ffmpeg seeks).
   * Which of the two a source gets depends on its bytes only, never on the memory bound: the two ways
   * write the same audio frames but not the same info frame, and one key must always mean the same bytes.
   */
  cutFor(source: SourceFile, spec: RenderSpec): Promise<FrameCut | null>;
  /** The source's index, or null when it is not a clean frame chain. */
  indexFor(source: SourceFile): Promise<FrameIndex | null>;
}

/** A source that is not a clean chain is remembered as such (a small entry), so it is walked only once. */
const NOT_INDEXABLE_BYTES = 64;

/** `maxBytes` bounds the indexes kept; one that does not fit is built again for each copy of its source. */
export function createFrameIndexes(options: { maxBytes: number }): FrameIndexes {
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
      index = readFrameIndex(source.file);
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
    async cutFor(source, spec) {
      // ffmpeg's concat protocol splits its list on '|' (render-args.ts): such a path is cut by ffmpeg's seek.
      if (source.file.includes('|')) return null;
      const built = await indexFor(source);
      return built && built.sampleRate === spec.sampleRate ? cutFrames(built, spec.startMs, copyLengthMs(spec)) : null;
    },
  };
}
