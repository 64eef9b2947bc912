// Owns the peaks key: which version of which source file a source's peaks are of. It names the job that
// computes them (so every ask for one source version joins one job) and, through its first half, the
// record they are kept in beside the frame index: a replaced file (new size or mtime) gets a new key, its
// record is computed again in place of the old one.
import { createHash } from 'node:crypto';
import type { SourceFile } from '../media/source-file.js';

/** Bump when the peaks' numbers could change (decoder arguments, binning): every source gets new peaks. */
export const PEAKS_VERSION = 1;

/** peaks-<24 hex of the real path>-<16 hex of version, size and mtime>: a BullMQ job id, never a render id. */
const KEY_PATTERN = /^peaks-([0-9a-f]{24})-([0-9a-f]{16})$/;

const hex = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

export function peaksKey(source: SourceFile): string {
  return `peaks-${hex(source.file, 24)}-${hex(JSON.stringify([PEAKS_VERSION, source.size, source.mtimeMs, ...(source.validator === undefined ? [] : [source.validator])]), 16)}`;
}

/** The record's file name for a key: one per source path, whatever its version. */
export function peaksRecordName(key: string): string {
  const match = KEY_PATTERN.exec(key);
  if (!match) throw new Error(`not a peaks key: ${key}`);
  return `${match[1]}.peaks`;
}
