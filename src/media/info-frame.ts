// Owns the Xing "Info" frame (with its LAME tag) at the head of a constant-bit-rate stream whose length is
// known before it is encoded, and splicing it into that stream as it is written. A render that is
// streamed while ffmpeg writes it must have final first bytes, and ffmpeg fills in its own header only by
// seeking back to it at the end (issue 12). The frame counts the stream's frames and bytes (so the answer
// can state its length before the last byte exists) and carries the encoder delay and padding that gapless
// decoders trim by; it omits only what needs the finished bytes: a seek table (a CBR stream is sought by
// its frame size) and the LAME tag's music CRC.
import { Transform, type TransformCallback } from 'node:stream';
import { crc16, type FrameHeader, id3v2Length, readFrameHeader } from './mp3-frame.js';

/** A stream's gapless facts: frames of audio, samples the encoder put before and after the audio itself. */
export interface GaplessLayout {
  frames: number;
  delay: number;
  padding: number;
}

/** A stream's layout: its gapless facts and its audio frames' bytes. */
export interface StreamLayout extends GaplessLayout {
  audioBytes: number;
  /**
   * For a stream whose frames are all written: the seek table (100 entries, each the byte offset of that
   * percent of the audio, in 256ths of the stream) and the LAME tag's CRC of the audio frames. A stream
   * with a table gets an "Xing" tag (its frames may differ in size), one without it an "Info" tag (CBR).
   */
  finished?: { toc: Buffer; musicCrc: number };
}

const FLAG_FRAMES = 0x01;
const FLAG_BYTES = 0x02;
const FLAG_TOC = 0x04;
const TOC_BYTES = 100;
/** The quality field: written although unused, as LAME and ffmpeg do (some tools expect it). */
const FLAG_QUALITY = 0x08;
/** Tag, flags, frame count, byte count, quality. */
const XING_FIELDS_BYTES = 20;
const LAME_TAG_BYTES = 36;
/** The vendor string ffmpeg writes for libmp3lame; ffmpeg reads the delays of tags naming LAME, Lavf or Lavc only. */
const ENCODER = 'Lavf lame';

/** The same stream format as `audioHeader` at bit-rate index `bitrateIndex`, without CRC or padding. */
function infoHeaderBytes(audioHeader: Buffer, bitrateIndex: number): Buffer {
  const header = Buffer.from(audioHeader.subarray(0, 4));
  header[1] = header[1]! | 0x01; // no CRC protection
  header[2] = (bitrateIndex << 4) | (header[2]! & 0x0c); // keep the sample rate; no padding, no private bit
  header[3] = header[3]! & 0xc0; // keep the channel mode only
  return header;
}

/**
 * The Info frame for a CBR stream whose first audio frame begins with `audioHeader`: of that frame's format
 * and bit rate (a higher one only when its frame is too small for the tag: 8 kbps at 8 kHz is not).
 */
export function buildInfoFrame(audioHeader: Buffer, layout: StreamLayout): Buffer {
  if (!readFrameHeader(audioHeader, 0)) throw new Error('not an MPEG audio layer III frame header');
  if (layout.delay > 0xfff || layout.padding > 0xfff || layout.delay < 0 || layout.padding < 0) {
    throw new Error(`a LAME tag holds delays of 0-4095 samples, not ${layout.delay}/${layout.padding}`);
  }
  for (let bitrateIndex = audioHeader[2]! >> 4; bitrateIndex < 15; bitrateIndex += 1) {
    const header = infoHeaderBytes(audioHeader, bitrateIndex);
    const format = readFrameHeader(header, 0)!;
    const { finished } = layout;
    const lameAt = format.xingAt + XING_FIELDS_BYTES + (finished ? TOC_BYTES : 0);
    if (lameAt + LAME_TAG_BYTES > format.length) continue;
    const frame = Buffer.alloc(format.length); // side information and unused fields stay zero
    header.copy(frame, 0);
    // Bytes from this frame's first to the last audio frame's last, as the Xing field and LAME's music length count them.
    const streamBytes = format.length + layout.audioBytes;
    frame.write(finished ? 'Xing' : 'Info', format.xingAt, 'latin1');
    frame.writeUInt32BE(FLAG_FRAMES | FLAG_BYTES | (finished ? FLAG_TOC : 0) | FLAG_QUALITY, format.xingAt + 4);
    frame.writeUInt32BE(layout.frames, format.xingAt + 8);
    frame.writeUInt32BE(streamBytes, format.xingAt + 12);
    finished?.toc.copy(frame, format.xingAt + 16);
    frame.write(ENCODER, lameAt, 'latin1');
    frame.writeUIntBE((layout.delay << 12) | layout.padding, lameAt + 21, 3);
    frame.writeUInt32BE(streamBytes, lameAt + 28);
    if (finished) frame.writeUInt16BE(finished.musicCrc, lameAt + 32);
    frame.writeUInt16BE(crc16(frame.subarray(0, lameAt + 34)), lameAt + 34);
    return frame;
  }
  throw new Error('no bit rate of this format has room for an Info frame');
}

/**
 * Passes an MP3 byte stream through, with the Info frame put after its ID3v2 tag (if any) and before its
 * first frame, for the layout `layoutOf` gives that frame's header (the bit rate the encoder chose). The
 * stream must not carry an Info frame of its own (ffmpeg writes none into a pipe). A stream that does not
 * begin with a frame after its tag fails.
 */
export function createInfoFrameInserter(layoutOf: (audioHeader: FrameHeader) => StreamLayout): Transform {
  let head: Buffer | null = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      if (head === null) return done(null, chunk);
      head = Buffer.concat([head, chunk]);
      if (head.length < 10) return done();
      const tagBytes = id3v2Length(head);
      if (head.length < tagBytes + 4) return done();
      const audioHeader = head.subarray(tagBytes, tagBytes + 4);
      let info: Buffer;
      try {
        const header = readFrameHeader(audioHeader, 0);
        if (!header) throw new Error('not an MPEG audio layer III frame header');
        info = buildInfoFrame(audioHeader, layoutOf(header));
      } catch (error) {
        return done(error as Error);
      }
      const whole = Buffer.concat([head.subarray(0, tagBytes), info, head.subarray(tagBytes)]);
      head = null;
      done(null, whole);
    },
    flush(done: TransformCallback) {
      done(null, head && head.length > 0 ? head : undefined);
    },
  });
}
