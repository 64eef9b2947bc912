// Owns the reading of an exact render's span (media/decode-span.ts) as the stream ffmpeg decodes from its
// stdin: through the process's source readers, so a local file is read by its handle and an origin object by
// Range requests with the origin client's retries, timeouts, If-Match and bound on requests at once. Read a
// MiB at a time at ffmpeg's pace: memory holds a chunk or two, however long the segment. And the small file
// ffmpeg reads the tags of a source with tags after its frames from (decode-span.ts), through the same reader.
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { DecodeSpan } from '../media/decode-span.js';
import type { SourceFile } from '../media/source-file.js';
import { readRange, type SourceReaders } from '../media/source-reader.js';
import { sourceChangedFailure } from './render-failure.js';

/** One read (and on the origin one Range request) of at most this: a 30 s span at 128 kbps is one. */
const SPAN_CHUNK_BYTES = 1 << 20;

async function* rangeBytes(readers: SourceReaders, source: SourceFile, ranges: Array<[number, number]>): AsyncGenerator<Buffer> {
  const reader = await readers.open(source);
  try {
    for (const [start, end] of ranges) {
      for (let at = start; at < end; at += SPAN_CHUNK_BYTES) {
        const to = Math.min(end, at + SPAN_CHUNK_BYTES);
        const bytes = await readRange(reader, at, to);
        if (bytes.length !== to - at) throw sourceChangedFailure();
        yield bytes;
      }
    }
  } finally {
    await reader.close();
  }
}

/**
 * The span's bytes in order, read as they are consumed (byte-counted, so no more than a chunk is read
 * ahead); destroying the stream closes the reader. A read's failure (an origin fault, a changed source) is
 * the stream's error, as itself.
 */
export function spanStream(readers: SourceReaders, source: SourceFile, span: DecodeSpan): Readable {
  return Readable.from(rangeBytes(readers, source, span.ranges), { objectMode: false, highWaterMark: SPAN_CHUNK_BYTES });
}

/** Writes the span's tags file (`span.tags`: a few KB, or the ID3v2 tag's size) into `file`; nothing without one. */
export async function writeSpanTags(readers: SourceReaders, source: SourceFile, span: DecodeSpan, file: string): Promise<void> {
  if (!span.tags) return;
  const parts: Buffer[] = [];
  for await (const bytes of rangeBytes(readers, source, span.tags)) parts.push(bytes);
  await writeFile(file, Buffer.concat(parts));
}
