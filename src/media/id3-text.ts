// Owns what a segment keeps of its source's ID3v2 tag: the text frames (title, artist, album, …), as the
// source wrote them, in a tag of the source's own version. Pictures and other binary frames stay behind:
// a 30 s clip should not carry a 500 KB cover.
import { id3v2Length } from './mp3-frame.js';

const HEADER_BYTES = 10;

function syncsafe(bytes: Buffer, at: number): number {
  return ((bytes[at]! & 0x7f) << 21) | ((bytes[at + 1]! & 0x7f) << 14) | ((bytes[at + 2]! & 0x7f) << 7) | (bytes[at + 3]! & 0x7f);
}

function writeSyncsafe(bytes: Buffer, at: number, value: number): void {
  for (let i = 0; i < 4; i += 1) bytes[at + i] = (value >> (7 * (3 - i))) & 0x7f;
}

/**
 * The text frames of the ID3v2.3 or v2.4 tag `head` begins with, as a tag of the same version; an empty
 * buffer when there is none, or when the tag is of a form whose frames cannot be moved as they are
 * (v2.2, unsynchronised, with an extended header).
 */
export function id3TextTag(head: Buffer): Buffer {
  const end = Math.min(head.length, id3v2Length(head));
  const version = head[3];
  if (end < HEADER_BYTES || (version !== 3 && version !== 4) || (head[5]! & 0xc0) !== 0) return Buffer.alloc(0);
  const kept: Buffer[] = [];
  let at = HEADER_BYTES;
  while (at + HEADER_BYTES <= end && /^[A-Z0-9]{4}$/.test(head.toString('latin1', at, at + 4))) {
    const size = version === 4 ? syncsafe(head, at + 4) : head.readUInt32BE(at + 4);
    const next = at + HEADER_BYTES + size;
    if (next > end) break;
    if (head[at] === 0x54 /* 'T' */) kept.push(head.subarray(at, next));
    at = next;
  }
  if (kept.length === 0) return Buffer.alloc(0);
  const header = Buffer.from([0x49, 0x44, 0x33, version, 0, 0, 0, 0, 0, 0]);
  const frames = Buffer.concat(kept);
  writeSyncsafe(header, 6, frames.length);
  return Buffer.concat([header, frames]);
}
