// Owns the frame index's bytes on disk: a versioned binary record of one source version's index (or of
// its having none), checked by CRC-32 and by the source's size and mtime, so a damaged, foreign or stale
// file reads as absent and is built again. Frame lengths are stored (2 bytes a frame: 270 KB for an hour
// at 44.1 kHz), offsets rebuilt from them on load.
import { crc32 } from 'node:zlib';
import type { FrameIndex } from './frame-index.js';

const MAGIC = 'MP3SIDX';
/** Bump when the record's layout or the index's meaning changes: older files are then rebuilt. */
export const FRAME_INDEX_FILE_VERSION = 1;
/** Magic (7), version (1), size (8), mtime (8), indexable (1), then the index's fields; CRC-32 last. */
const HEAD_BYTES = 7 + 1 + 8 + 8 + 1;
const FIELDS_BYTES = 4 + 2 + 1 + 4 + 4 + 4 + 8 + 8 + 8;

/** Which version of the source a record is for. */
export interface IndexedVersion {
  size: number;
  mtimeMs: number;
}

/** The record of `index` (null: the source has no index) for that version of the source. */
export function encodeFrameIndex(index: FrameIndex | null, version: IndexedVersion): Buffer {
  const frames = index?.frames ?? 0;
  const bytes = Buffer.alloc(HEAD_BYTES + (index ? FIELDS_BYTES + 2 * frames : 0) + 4);
  bytes.write(MAGIC, 0, 'latin1');
  bytes.writeUInt8(FRAME_INDEX_FILE_VERSION, 7);
  bytes.writeDoubleBE(version.size, 8);
  bytes.writeDoubleBE(version.mtimeMs, 16);
  bytes.writeUInt8(index ? 1 : 0, 24);
  if (index) {
    let at = HEAD_BYTES;
    at = bytes.writeUInt32BE(index.sampleRate, at);
    at = bytes.writeUInt16BE(index.samplesPerFrame, at);
    at = bytes.writeUInt8(index.channels, at);
    at = bytes.writeUInt32BE(index.skipSamples, at);
    at = bytes.writeUInt32BE(index.endTrimSamples, at);
    at = bytes.writeUInt32BE(frames, at);
    at = bytes.writeDoubleBE(index.headTagBytes, at);
    at = bytes.writeDoubleBE(index.fileBytes, at);
    at = bytes.writeDoubleBE(index.offsets[0]!, at);
    for (let k = 0; k < frames; k += 1) at = bytes.writeUInt16BE(index.offsets[k + 1]! - index.offsets[k]!, at);
  }
  bytes.writeUInt32BE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4);
  return bytes;
}

/**
 * The index a record holds for that version of the source: the index, null (the source has none), or
 * undefined when the record is damaged, of another layout version or of another version of the source.
 */
export function decodeFrameIndex(bytes: Buffer, version: IndexedVersion): FrameIndex | null | undefined {
  if (bytes.length < HEAD_BYTES + 4 || bytes.toString('latin1', 0, 7) !== MAGIC) return undefined;
  if (bytes.readUInt8(7) !== FRAME_INDEX_FILE_VERSION) return undefined;
  if (bytes.readUInt32BE(bytes.length - 4) !== crc32(bytes.subarray(0, bytes.length - 4))) return undefined;
  if (bytes.readDoubleBE(8) !== version.size || bytes.readDoubleBE(16) !== version.mtimeMs) return undefined;
  if (bytes.readUInt8(24) === 0) return bytes.length === HEAD_BYTES + 4 ? null : undefined;
  if (bytes.length < HEAD_BYTES + FIELDS_BYTES + 4) return undefined;
  const field = (offset: number) => HEAD_BYTES + offset;
  const sampleRate = bytes.readUInt32BE(field(0));
  const samplesPerFrame = bytes.readUInt16BE(field(4));
  const channels = bytes.readUInt8(field(6));
  const skipSamples = bytes.readUInt32BE(field(7));
  const endTrimSamples = bytes.readUInt32BE(field(11));
  const frames = bytes.readUInt32BE(field(15));
  const headTagBytes = bytes.readDoubleBE(field(19));
  const fileBytes = bytes.readDoubleBE(field(27));
  const first = bytes.readDoubleBE(field(35));
  const at = field(FIELDS_BYTES);
  if (bytes.length !== at + 2 * frames + 4) return undefined;
  const offsets = new Float64Array(frames + 1);
  offsets[0] = first;
  for (let k = 0; k < frames; k += 1) offsets[k + 1] = offsets[k]! + bytes.readUInt16BE(at + 2 * k);
  return { sampleRate, samplesPerFrame, channels, skipSamples, endTrimSamples, frames, offsets, headTagBytes, fileBytes };
}
