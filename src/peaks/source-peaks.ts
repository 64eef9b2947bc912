// Owns computing a source's finest peaks: ffmpeg decodes it to PCM into a sink that bins each chunk as it
// comes (peak-bins.ts), so an hour-long source costs its peaks' memory, not its decode's (635 MB of PCM).
import { Writable } from 'node:stream';
import type { MediaTools } from '../media/ffmpeg.js';
import { PeakBins } from './peak-bins.js';
import { FINEST_SAMPLES_PER_PIXEL } from './peaks-url.js';
import type { Peaks } from './waveform-data.js';

/** What the decode needs to know of the source: where it is, and its format as the catalog read it. */
export interface PeaksSource {
  file: string;
  /** What ffmpeg needs to open `file` on the HTTP origin (ffmpeg.ts httpInputOptions); none for a local file. */
  openOptions?: string[];
  sampleRate: number;
  channels: number;
  durationMs: number;
}

/** The sink's buffer: what ffmpeg may run ahead of the binning by (plus the pipe's own 64 KB). */
const SINK_HIGH_WATER_BYTES = 1024 * 1024;

export async function computePeaks(media: Pick<MediaTools, 'decodePcm'>, source: PeaksSource, timeoutMs: number): Promise<Peaks> {
  const bins = new PeakBins(source.sampleRate, source.channels, FINEST_SAMPLES_PER_PIXEL, (source.durationMs * source.sampleRate) / 1000);
  const sink = new Writable({
    highWaterMark: SINK_HIGH_WATER_BYTES,
    write(chunk: Buffer, _encoding, done) {
      bins.push(chunk);
      done();
    },
  });
  await media.decodePcm(source.file, source.channels, sink, { timeoutMs }, source.openOptions);
  return bins.finish();
}
