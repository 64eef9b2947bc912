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
import { type FrameIndex, frameRanges, hasTailTags } from './frame-index.js';
import { gaplessSampleCount, reservoirFramesBefore } from './sample-cut.js';

export interface DecodeSpan {
  /** Source frames [firstFrame, endFrame) are decoded. */
  firstFrame: number;
  endFrame: number;
  /** The byte ranges [start, end) to give the decoder, in order: the ID3v2 tag (its text tags), then the frames. */
  ranges: Array<[number, number]>;
  /** Samples [startSample, endSample) of the decode of those bytes are the asked ones (fewer at the source's end). */
  startSample: number;
  endSample: number;
}

/**
 * The span that decodes to `samples` samples from gapless sample `start` of the source (t = 0 after the LAME
 * tag's delay and the decoder's 529, as ffmpeg's timeline and mpg123 count). Null when the source has tags
 * after its frames (ID3v1, APE): ffmpeg reads those only at the end of a whole seekable file, so such a
 * source is left to ffmpeg's own seek, which keeps its tags in the render.
 */
export function decodeSpan(index: FrameIndex, start: number, samples: number): DecodeSpan | null {
  const total = gaplessSampleCount(index);
  if (hasTailTags(index) || samples <= 0 || start < 0 || start >= total) return null;
  const spf = index.samplesPerFrame;
  // Sample numbers of the decoder's output over the whole source: frame k decodes to k × spf onwards.
  const first = start + index.skipSamples;
  const last = Math.min(first + samples, index.skipSamples + total) - 1;
  const holdingStart = Math.floor(first / spf);
  // The frame before the first asked one, and the frames its main data may reach back into.
  const firstFrame = holdingStart === 0 ? 0 : holdingStart - 1 - reservoirFramesBefore(index, holdingStart - 1);
  // Through the frame holding the last asked sample: a frame's output needs nothing after it.
  const endFrame = Math.floor(last / spf) + 1;
  return {
    firstFrame,
    endFrame,
    ranges: frameRanges(index, firstFrame, endFrame),
    startSample: first - firstFrame * spf,
    endSample: last + 1 - firstFrame * spf,
  };
}
