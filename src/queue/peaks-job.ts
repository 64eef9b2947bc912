// Owns the contract between the API and the workers for peaks: the job's name on the render queue (the
// worker dispatches on it), its payload (built once by the API from the catalog's facts, read once by the
// worker) and its result. Peaks jobs share the render queue, its limits, its waiters and its failure memory:
// a peaks job is a render like any other, only its output is numbers beside the frame index.
import type { SourceIdentity } from '../segments/render-key.js';
import type { SourceFacts } from '../sources/catalog.js';

export const PEAKS_JOB_NAME = 'peaks';

export interface PeaksJob {
  /** The peaks key (peaks-key.ts); also the job id. */
  key: string;
  /** Resolved again by the worker under its MEDIA_ROOT; a file whose size or mtime changed since is refused. */
  source: SourceIdentity;
  /** The source's format as the catalog read it: the decode's channels, the data's sample_rate. */
  sampleRate: number;
  channels: number;
  /** To size the output once. */
  durationMs: number;
  requestId: string;
}

export function peaksJobFor(key: string, facts: SourceFacts, requestId: string): PeaksJob {
  return {
    key,
    source: {
      path: facts.path,
      size: facts.size,
      mtimeMs: facts.mtimeMs,
      ...(facts.validator === undefined ? {} : { validator: facts.validator }),
    },
    sampleRate: facts.sampleRate,
    channels: facts.channels,
    durationMs: facts.durationMs,
    requestId,
  };
}

export interface PeaksResult {
  /** False when the record was there already (a duplicate job after a race). */
  computed: boolean;
  /** Pixels at the finest resolution. */
  length: number;
  ms?: number;
}
