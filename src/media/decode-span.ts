// Owns the part of an indexed source an exact render decodes: the frames that hold the asked samples, the
// frames before them that prime the decoder, and which of the decoded samples are the asked ones. Given
// only these bytes, ffmpeg's decoder gives the very samples its decode of the whole source gives (checked on
// the corpus: test/integration/exact-span.test.ts); its own seek (`-ss` before `-i`) instead reads the
// whole source up to the start point and then starts the decoder cold at the frame holding it, which
// decodes that frame's first granules wrong (up to ±10,000 of 32,768 against mpg123's full decode).
//
// Why priming frames (ISO 11172-3 §2.4.3.4.7.1; ffmpeg's mpegaudiodec_template.c): a frame's output depends
// on the frame before it, whose last granule leaves the IMDCT overlap and the filter bank's 16 subband slots
// (512 samples, less than a granule); that frame decodes right only when the bytes its main data reaches
// back into (the bit reservoir, up to 511 bytes of main data in earlier frames) were given to the decoder too.
//
// Tags after the frames (ID3v1, APE) are read by ffmpeg's mp3 demuxer only by seeking to the end of a whole,
// seekable input (mp3dec.c: ff_id3v1_read, ff_ape_parse_tag), never from a stream. For such a source the span
// also names the bytes of a small file that reads, to that demuxer, as the source with all but its first two
// frames taken out: same ID3v2 tag, same tail tags, so the same metadata (the renders' ID3v2 tags are those
// of ffmpeg's seek on the whole file, byte for byte: exact-span.test.ts). Two frames, because the demuxer's resync at the start
// wants a frame followed by another. Measured against giving ffmpeg the whole source (its URL on the origin)
// as the tags input: ffmpeg's input thread reads ahead in it and the socket buffers fill, 4.4 MB from the
// origin for a 30 s render at 30:00 of an hour, against 1.4 KB for this file.
import { type FrameIndex, frameRanges, hasTailTags } from './frame-index.js';
import { gaplessSampleCount, reservoirFramesBefore } from './sample-cut.js';

export interface DecodeSpan {
  /** Source frames [firstFrame, endFrame) are decoded. */
  firstFrame: number;
  endFrame: number;
  /**
   * The byte ranges [start, end) to give the decoder, in order: the ID3v2 tag (its text tags, unless `tags`
   * holds them), then the frames.
   */
  ranges: Array<[number, number]>;
  /** When tags follow the frames: the byte ranges of the file ffmpeg reads the render's tags from, in order. */
  tags?: Array<[number, number]>;
  /** Samples [startSample, endSample) of the decode of those bytes are the asked ones (fewer at the source's end). */
  startSample: number;
  endSample: number;
}

/**
 * The span that decodes to `samples` samples from gapless sample `start` of the source (t = 0 after the LAME
 * tag's delay and the decoder's 529, as ffmpeg's timeline and mpg123 count). A source with tags after its
 * frames (ID3v1, APE) gets `tags` too (above). Null for an ask outside the source.
 */
export function decodeSpan(index: FrameIndex, start: number, samples: number): DecodeSpan | null {
  const total = gaplessSampleCount(index);
  if (samples <= 0 || start < 0 || start >= total) return null;
  const spf = index.samplesPerFrame;
  // Sample numbers of the decoder's output over the whole source: frame k decodes to k × spf onwards.
  const first = start + index.skipSamples;
  const last = Math.min(first + samples, index.skipSamples + total) - 1;
  const holdingStart = Math.floor(first / spf);
  // The frame before the first asked one, and the frames its main data may reach back into.
  const firstFrame = holdingStart === 0 ? 0 : holdingStart - 1 - reservoirFramesBefore(index, holdingStart - 1);
  // Through the frame holding the last asked sample: a frame's output needs nothing after it.
  const endFrame = Math.floor(last / spf) + 1;
  const span = { firstFrame, endFrame, startSample: first - firstFrame * spf, endSample: last + 1 - firstFrame * spf };
  if (!hasTailTags(index)) return { ...span, ranges: frameRanges(index, firstFrame, endFrame) };
  // The ID3v2 tag is in the tags file: the decoder gets the frames alone, and the origin gives the tag once.
  const frames: Array<[number, number]> = [[index.offsets[firstFrame]!, index.offsets[endFrame]!]];
  return { ...span, ranges: frames, tags: tagRanges(index) };
}

/** The source less its frames from the third on: the ID3v2 tag, the Info frame, two frames, then the tail tags. */
function tagRanges(index: FrameIndex): Array<[number, number]> {
  const kept = index.offsets[Math.min(2, index.frames)]!;
  const tailStart = index.offsets[index.frames]!;
  return kept === tailStart
    ? [[0, index.fileBytes]]
    : [
        [0, kept],
        [tailStart, index.fileBytes],
      ];
}
