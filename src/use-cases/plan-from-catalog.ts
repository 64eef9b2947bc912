// Owns the first step of every ask for a segment: the source's facts from the catalog, then the plan
// (clamped end, limits, render key). Both ways of asking (waiting for the bytes, or asynchronously) take it.
import { planSegment, type SegmentPlan } from '../segments/segment-plan.js';
import type { SegmentRequest } from '../segments/segment-url.js';
import type { Catalog } from '../sources/catalog.js';

export interface PlanningDeps {
  catalog: Pick<Catalog, 'describe'>;
  maxSegmentSeconds: number;
  /** SIGNING_KEY: when set, render keys (render ids) are keyed with it (render-key.ts). */
  signingKey: string | undefined;
}

/** Rejects with the segment's 4xx (no such source, not MP3, start past the end, too long). */
export async function planFromCatalog(deps: PlanningDeps, segment: SegmentRequest): Promise<SegmentPlan> {
  const source = await deps.catalog.describe(segment.source);
  return planSegment(segment, source, { maxSegmentSeconds: deps.maxSegmentSeconds, signingKey: deps.signingKey });
}
