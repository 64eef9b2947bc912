// Owns the public description of one source, the same wherever it is shown: GET /sources, GET
// /sources/{source} and `segments probe`.
import { samplesPerFrameAt } from '../media/mp3-frame.js';
import { sourceLabel, sourcePathFor } from '../segments/segment-url.js';
import type { SourceFacts } from './catalog.js';

export interface SourceDescription {
  /** The decoded source path (as on disk below MEDIA_ROOT, without .mp3). */
  source: string;
  durationSeconds: number;
  sampleRate: number;
  /** Samples in one MP3 frame (1152, or 576 below 32 kHz): the clip picker's smallest nudge. */
  samplesPerFrame: number;
  channels: number;
  bitRate: number;
  size: number;
  /** The segment URL template, with the source percent-encoded. */
  segments: string;
}

export function describeSource(facts: SourceFacts): SourceDescription {
  return {
    source: sourceLabel(facts.path),
    durationSeconds: facts.durationMs / 1000,
    sampleRate: facts.sampleRate,
    samplesPerFrame: samplesPerFrameAt(facts.sampleRate),
    channels: facts.channels,
    bitRate: facts.bitRate,
    size: facts.size,
    segments: `/segments/${sourcePathFor(facts.path)}/{start}-{end}.mp3`,
  };
}
