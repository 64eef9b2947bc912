// Owns reading a source's bytes wherever it lives, behind one interface: a local file (the default, by a
// file handle) or an object on the operator's HTTP origin (sources/origin-client.ts, by Range requests).
// The frame walk, the index build and the sample cut read through it, so each reads only what it needs.
import { open } from 'node:fs/promises';
import type { SourceFile } from './source-file.js';

/** One open source: its size, and reads at any position. */
export interface SourceReader {
  readonly size: number;
  /** Fills `into` from `position`; the bytes read, fewer only at the source's end. */
  read(into: Buffer, position: number): Promise<number>;
  close(): Promise<void>;
}

/** Opens sources for reading; a process has one (local files, or its origin client). */
export interface SourceReaders {
  open(source: Pick<SourceFile, 'file' | 'size' | 'validator'>): Promise<SourceReader>;
}

/** Local files, by path: what every source is unless MEDIA_ORIGIN is set. */
export const localReaders: SourceReaders = {
  async open(source) {
    const handle = await open(source.file, 'r');
    try {
      const { size } = await handle.stat();
      return {
        size,
        read: async (into, position) => (await handle.read(into, 0, into.length, position)).bytesRead,
        close: () => handle.close(),
      };
    } catch (error) {
      await handle.close();
      throw error;
    }
  },
};

/** Bytes [start, end) of an open source, or a short buffer when the source ends before. */
export async function readRange(reader: SourceReader, start: number, end: number): Promise<Buffer> {
  const bytes = Buffer.alloc(end - start);
  const read = await reader.read(bytes, start);
  return bytes.subarray(0, read);
}
