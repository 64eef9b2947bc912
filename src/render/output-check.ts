// Owns the check of a finished render before it is published: readable MP3 at the source's sample rate,
// as long as asked. Read in-process: an ffprobe per render cost as much as a short copy itself (17 ms of 36 ms).
import { mp3FrameSeconds, readFrameChain, readGaplessInfo, statedLength } from '../media/mp3-frame.js';
import { permanentFailure } from './render-failure.js';
import { askedLengthMs, type RenderSpec } from './render-spec.js';

/** How a copy was cut: to the sample (a gapless decoder plays exactly the asked samples), or in whole frames. */
export type CopyCut = 'sample' | 'frame';

/** A render that passed its check: its playing length, its size, and for a copy how it was cut. */
export interface CheckedRender {
  durationSeconds: number;
  bytes: number;
  cut?: CopyCut;
}

/** What the render's maker knows it wrote: a sample cut states the samples it plays. */
export interface WrittenRender {
  samples?: number;
}

/**
 * The output must be MP3 whose length matches the ask: a sample cut exactly the samples it was made to
 * play (its frames less its LAME tag's delay and padding); a frame cut within 3 frames (frames as they
 * are; one asked shorter than two frames is given two); an exact render within 2 ms. A render whose header
 * states its length (exact renders, sample cuts) must be exactly that long.
 */
export async function checkOutput(file: string, spec: RenderSpec, written: WrittenRender = {}): Promise<CheckedRender> {
  // A read error is not the render's fault (EIO, EMFILE): it goes up as itself, a passing fault
  // (render-pipeline.ts); only bytes that are no frame chain fail the render for good.
  const chain = await readFrameChain(file);
  if (!chain || chain.sampleRate !== spec.sampleRate) {
    throw permanentFailure(422, 'The render of this source is not readable MP3; the file may be damaged.');
  }
  const sampleCut = written.samples !== undefined;
  const asked = sampleCut ? written.samples! / spec.sampleRate : askedLengthMs(spec) / 1000;
  const gapless = spec.options.mode === 'exact' || sampleCut ? await readGaplessInfo(file) : null;
  // The frames written, trimmed by the header's delay and padding: a header computed before encoding
  // (exact-layout.ts) that counted other frames than LAME wrote makes this a frame off, and fails.
  const got = gapless
    ? (chain.audioFrames * gapless.samplesPerFrame - gapless.delay - gapless.padding) / gapless.sampleRate
    : chain.durationSeconds;
  const tolerance = sampleCut ? 0.5 / spec.sampleRate : spec.options.mode === 'copy' ? 3 * mp3FrameSeconds(spec.sampleRate) : 0.002;
  if (!(Math.abs(got - asked) <= tolerance)) {
    throw permanentFailure(
      422,
      `The source could not be cut accurately there (got ${got.toFixed(3)} s of the ${asked.toFixed(3)} s asked); the file may be damaged.`,
    );
  }
  // An exact render's header stated its length before it was written (exact-layout.ts): answers streamed
  // while it was written sent that length, so the file must hold exactly that. A sample cut's must too.
  if ((spec.options.mode === 'exact' || sampleCut) && (await statedLength(file)) !== chain.bytes) {
    // Not the source's fault: the encoder wrote other frames than planned. Never served; said, and logged.
    throw permanentFailure(503, 'The render did not come out as long as planned; retry later, and report the URL if this persists.');
  }
  const cut: CopyCut | undefined = spec.options.mode === 'copy' ? (sampleCut ? 'sample' : 'frame') : undefined;
  return { durationSeconds: got, bytes: chain.bytes, ...(cut ? { cut } : {}) };
}
