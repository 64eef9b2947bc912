// Owns a source's peaks asked for by a client that waits: the source's facts from the catalog (404, 422
// before anything else), the peaks key of its version, then the finest peaks from their record, or a peaks
// job on the render queue (joined when one is queued or running for that version) and a wait for it, as a
// segment miss waits (WAIT_TIMEOUT_MS; past it the job goes on and the client is told when to look again).
import { Unavailable } from '../errors.js';
import { peaksKey } from '../peaks/peaks-key.js';
import type { PeaksRecords } from '../peaks/peaks-records.js';
import type { Peaks } from '../peaks/waveform-data.js';
import { type PeaksJob, peaksJobFor } from '../queue/peaks-job.js';
import { WaitAbandoned, WaitTimedOut } from '../queue/render-waiter.js';
import type { SourcePath } from '../segments/segment-url.js';
import type { Catalog, SourceFacts } from '../sources/catalog.js';
import type { ClientGoneWatch } from './obtain-segment.js';
import type { RenderRequester } from './request-render.js';

export interface PeaksDeps {
  catalog: Pick<Catalog, 'describe'>;
  peaksRecords: Pick<PeaksRecords, 'read'>;
  peaksRequester: RenderRequester<PeaksJob>;
}

export interface PeaksPlan {
  facts: SourceFacts;
  /** Names the source version's peaks: the job, the record, and (with the asked form) the ETag. */
  key: string;
}

/** Rejects with the source's 4xx (no such source, not decodable MP3) or a probe's 503. */
export async function planPeaks(deps: Pick<PeaksDeps, 'catalog'>, source: SourcePath): Promise<PeaksPlan> {
  const facts = await deps.catalog.describe(source);
  return { facts, key: peaksKey(facts) };
}

/** The wait ran out while the job goes on (a long source): the client looks again after this many seconds. */
export interface StillComputing {
  stillComputing: true;
  retryAfterSeconds: number;
}

/**
 * The source version's finest peaks; null when the client went away while they were computed, or
 * StillComputing when WAIT_TIMEOUT_MS ran out first (the job goes on either way). Rejects with 422 (the
 * decode failed for good) or 503 (overloaded, a passing fault).
 */
export async function obtainPeaks(
  deps: PeaksDeps,
  plan: PeaksPlan,
  ask: { requestId: string; onClientGone: ClientGoneWatch; client: string },
): Promise<Peaks | StillComputing | null> {
  const stored = await deps.peaksRecords.read(plan.key);
  if (stored) return stored;
  // Few clients wait on peaks at once (one job per source version): an AbortController each is affordable.
  const gone = new AbortController();
  const unwatch = ask.onClientGone(() => gone.abort());
  try {
    await deps.peaksRequester.request(peaksJobFor(plan.key, plan.facts, ask.requestId), gone.signal, { client: ask.client });
  } catch (error) {
    if (error instanceof WaitAbandoned) return null;
    // Not a failure: unlike a segment, whose player needs the bytes now, a page can draw its waveform later.
    if (error instanceof WaitTimedOut) return { stillComputing: true, retryAfterSeconds: error.retryAfterSeconds };
    throw error;
  } finally {
    unwatch();
  }
  const computed = await deps.peaksRecords.read(plan.key);
  if (!computed) throw new Unavailable('The peaks were computed but cannot be read now; retry.', 'renderEvicted');
  return computed;
}
