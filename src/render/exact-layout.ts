// Owns the layout of an exact render, known before it is encoded: its Info frame is written first and
// streamed while LAME encodes the rest (media/info-frame.ts). The layout is LAME's as ffmpeg drives it,
// measured over lengths of 1 to 300,000 samples at 8-48 kHz, mono and stereo, 8-320 kbps: the encoder
// delays the audio by 576 samples, its flush ends the stream with at least 576 samples of padding (so the
// frames are ⌈(samples + 1152) / samples per frame⌉), and it pads frames to the bit rate by LAME's own
// rule (below). The render's check compares the frames and bytes written with these.
import type { StreamLayout } from '../media/info-frame.js';
import { type FrameHeader, samplesPerFrameAt } from '../media/mp3-frame.js';
import { exactSampleCount, type RenderSpec } from './render-spec.js';

/** Samples LAME puts before the audio (written into the LAME tag, which gapless decoders trim by). */
export const LAME_ENCODER_DELAY = 576;
/** What LAME's flush adds after the audio, at least: the padding is this, up to a frame more. */
const LAME_FLUSH_SAMPLES = 576;

/**
 * Bytes of `frames` CBR frames as LAME writes them. A frame holds spf/8 × bit rate / sample rate bytes;
 * the fraction is paid with a padding byte whenever LAME's running slot count (starting at the fraction
 * itself, less the fraction per frame) goes below zero (lame's "slot_lag"): never in the first frame, then
 * once per sample rate's worth of fractions.
 */
export function lameCbrBytes(header: Pick<FrameHeader, 'bitrate' | 'sampleRate' | 'samplesPerFrame'>, frames: number): number {
  const numerator = (header.samplesPerFrame / 8) * header.bitrate;
  const whole = Math.floor(numerator / header.sampleRate);
  const fraction = numerator % header.sampleRate;
  return frames * whole + Math.ceil((Math.max(0, frames - 1) * fraction) / header.sampleRate);
}

/** The layout of `spec`'s exact render, once the encoder's first frame header says its bit rate. */
export function exactRenderLayout(spec: RenderSpec): (audioHeader: FrameHeader) => StreamLayout {
  const samples = exactSampleCount(spec);
  const samplesPerFrame = samplesPerFrameAt(spec.sampleRate);
  const frames = Math.ceil((samples + LAME_ENCODER_DELAY + LAME_FLUSH_SAMPLES) / samplesPerFrame);
  const padding = frames * samplesPerFrame - LAME_ENCODER_DELAY - samples;
  return (audioHeader) => ({ frames, delay: LAME_ENCODER_DELAY, padding, audioBytes: lameCbrBytes(audioHeader, frames) });
}
