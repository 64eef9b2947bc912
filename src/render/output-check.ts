// Owns the check of a finished render before it is published: readable MP3 at the source's sample rate,
// as long as asked. Read in-process: an ffprobe per render cost as much as a short copy itself (17 ms of 36 ms).
import { mp3FrameSeconds, readFrameChain, readGaplessInfo, statedLength } from '../media/mp3-frame.js';
import { permanentFailure } from './render-failure.js';
import { askedLengthMs, type RenderSpec } from './render-spec.js';

/** A render that passed its check: its playing length and its size. */
export interface CheckedRender {
  durationSeconds: number;
  bytes: number;
}

/**
 * The output must be MP3 whose length matches the ask: within 3 frames when copying (frames as they are),
 * within 2 ms when re-encoding (its frames less its LAME tag's delay and padding). A copy asked
 * shorter than two frames is given two.
 */
export async function checkOutput(file: string, spec: RenderSpec): Promise<CheckedRender> {
  const chain = await readFrameChain(file).catch(() => null);
  if (!chain || chain.sampleRate !== spec.sampleRate) {
    throw permanentFailure(422, 'The render of this source is not readable MP3; the file may be damaged.');
  }
  const asked = askedLengthMs(spec) / 1000;
  const gapless = spec.options.mode === 'exact' ? await readGaplessInfo(file) : null;
  // The frames written, trimmed by the header's delay and padding: a header computed before encoding
  // (exact-layout.ts) that counted other frames than LAME wrote makes this a frame off, and fails.
  const got = gapless
    ? (chain.audioFrames * gapless.samplesPerFrame - gapless.delay - gapless.padding) / gapless.sampleRate
    : chain.durationSeconds;
  const tolerance = spec.options.mode === 'copy' ? 3 * mp3FrameSeconds(spec.sampleRate) : 0.002;
  if (!(Math.abs(got - asked) <= tolerance)) {
    throw permanentFailure(
      422,
      `The source could not be cut accurately there (got ${got.toFixed(3)} s of the ${asked.toFixed(3)} s asked); the file may be damaged.`,
    );
  }
  // An exact render's header stated its length before it was written (exact-layout.ts): answers streamed
  // while it was written sent that length, so the file must hold exactly that.
  if (spec.options.mode === 'exact' && (await statedLength(file)) !== chain.bytes) {
    // Not the source's fault: the encoder wrote other frames than planned. Never served; said, and logged.
    throw permanentFailure(503, 'The render did not come out as long as planned; retry later, and report the URL if this persists.');
  }
  return { durationSeconds: got, bytes: chain.bytes };
}
