// Reads figures from an API process's /metrics (Prometheus text), so tests assert on what operators see.

/** Value of one series: `name` with exactly these labels (none: the unlabelled series). NaN when absent. */
export async function metricValue(apiUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const wanted = Object.entries(labels)
    .map(([label, value]) => `${label}="${value}"`)
    .join(',');
  const series = wanted ? `${name}{${wanted}}` : name;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return Number.NaN;
}

/** segment_requests_total for one outcome (0 before the first such request). */
export async function segmentOutcomes(apiUrl: string, outcome: string): Promise<number> {
  const value = await metricValue(apiUrl, 'segment_requests_total', { outcome });
  return Number.isNaN(value) ? 0 : value;
}

/** The outcomes of a segment request that got its audio: each such request counts as exactly one. */
export const ANSWERED_OUTCOMES = ['miss', 'joined', 'hit', 'memory_hit'] as const;
export type AnsweredOutcomes = Record<(typeof ANSWERED_OUTCOMES)[number], number>;

/** segment_requests_total for each answered outcome. */
export async function answeredOutcomes(apiUrl: string): Promise<AnsweredOutcomes> {
  return Object.fromEntries(
    await Promise.all(ANSWERED_OUTCOMES.map(async (o) => [o, await segmentOutcomes(apiUrl, o)] as const)),
  ) as AnsweredOutcomes;
}

/** How far each answered outcome moved between two readings. */
export function outcomesSince(after: AnsweredOutcomes, before: AnsweredOutcomes): AnsweredOutcomes & { total: number } {
  const moved = Object.fromEntries(ANSWERED_OUTCOMES.map((o) => [o, after[o] - before[o]])) as AnsweredOutcomes;
  return { ...moved, total: ANSWERED_OUTCOMES.reduce((sum, o) => sum + moved[o], 0) };
}

/** Median of a list of numbers (milliseconds, say). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}
