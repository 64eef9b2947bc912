// Owns the peaks on disk: one record per source file in the frame indexes' folder (DATA_DIR/store/indexes),
// holding the finest peaks (audiowaveform .dat, 16 bits) behind the key of the source version they are of
// and a CRC-32, so a stale, damaged or foreign record reads as absent. Published like renders: written
// under a temp name, flushed, renamed, the folder flushed (a reader sees the old record or the new one,
// even after a power loss).
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { flushToDisk, writeFlushed } from '../store/durable-file.js';
import { peaksRecordName } from './peaks-key.js';
import { decodeDat16, encodeDat, type Peaks } from './waveform-data.js';

const MAGIC = 'MP3SPKS';
/** Bump when the record's layout changes: older records then read as absent and are computed again. */
const RECORD_VERSION = 1;

export interface PeaksRecords {
  /** The finest peaks of the key's source version, or null (none yet, another version's, or damaged). */
  read(key: string): Promise<Peaks | null>;
  /** Whether the key's peaks are recorded whole. */
  has(key: string): Promise<boolean>;
  publish(key: string, peaks: Peaks): Promise<void>;
}

/** Magic (7), version (1), key length (1), key, the .dat, CRC-32 of all before it. */
export function encodePeaksRecord(key: string, peaks: Peaks): Buffer {
  const head = Buffer.alloc(9 + key.length);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt8(RECORD_VERSION, 7);
  head.writeUInt8(key.length, 8);
  head.write(key, 9, 'latin1');
  const body = Buffer.concat([head, encodeDat(peaks, 16), Buffer.alloc(4)]);
  body.writeUInt32BE(crc32(body.subarray(0, body.length - 4)), body.length - 4);
  return body;
}

export function decodePeaksRecord(bytes: Buffer, key: string): Peaks | undefined {
  if (bytes.length < 13 || bytes.toString('latin1', 0, 7) !== MAGIC || bytes.readUInt8(7) !== RECORD_VERSION) return undefined;
  const keyEnd = 9 + bytes.readUInt8(8);
  if (bytes.toString('latin1', 9, keyEnd) !== key) return undefined;
  if (bytes.readUInt32BE(bytes.length - 4) !== crc32(bytes.subarray(0, bytes.length - 4))) return undefined;
  return decodeDat16(bytes.subarray(keyEnd, bytes.length - 4));
}

export function createPeaksRecords(options: { dir: string }): PeaksRecords {
  const dir = path.resolve(options.dir);
  async function read(key: string): Promise<Peaks | null> {
    const bytes = await readFile(path.join(dir, peaksRecordName(key))).catch(() => null);
    return (bytes && decodePeaksRecord(bytes, key)) ?? null;
  }
  return {
    read,
    has: async (key) => (await read(key)) !== null,
    async publish(key, peaks) {
      const record = path.join(dir, peaksRecordName(key));
      const temp = `${record}.${randomUUID()}.tmp`;
      await mkdir(dir, { recursive: true });
      try {
        await writeFlushed(temp, encodePeaksRecord(key, peaks));
        await rename(temp, record);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      await flushToDisk(dir);
    },
  };
}
