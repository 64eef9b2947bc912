// Owns the tests' reference CRC-16/ARC (LAME's tag CRCs), bit at a time as its definition reads: an oracle
// that shares nothing with the service's table-driven crc16.
export function bitwiseCrc16(bytes: Buffer, start = 0): number {
  let crc = start;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}
