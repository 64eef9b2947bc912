// Owns summarising timings measured by the bench itself (sequential renders, the waiting crowd): the same
// [percentile, ms] shape wrk reports, so every scenario is charted and tabled alike.

/** Nearest-rank percentiles of `samples` (ms), at the points wrk reports. */
export function percentilesOf(samples: readonly number[]): [number, number][] {
  if (samples.length === 0) return [];
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return [
    [0, sorted[0]!],
    ...[10, 25, 50, 75, 90, 95, 99, 99.9, 99.99].map((p): [number, number] => [p, at(p)]),
    [100, sorted[sorted.length - 1]!],
  ];
}

/** The value at percentile `p` of a [percentile, ms] list (the nearest point at or above it). */
export function percentileAt(points: readonly [number, number][], p: number): number {
  const point = points.find(([percentile]) => percentile >= p) ?? points[points.length - 1];
  return point ? point[1] : Number.NaN;
}

export function median(samples: readonly number[]): number {
  return percentileAt(percentilesOf(samples), 50);
}
