// Owns the Prometheus metrics of an API process. Render counts come from Redis (all workers); request
// outcomes are this process's own.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

export type SegmentOutcome = 'hit' | 'memory_hit' | 'miss' | 'joined' | 'shed' | 'timeout' | 'failed';

export interface Metrics {
  readonly registry: Registry;
  countSegment(outcome: SegmentOutcome): void;
}

export function createMetrics(sources: {
  renderCounts: () => Promise<Record<string, number>>;
  waitingRequests: () => number;
}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const segments = new Counter({
    name: 'segment_requests_total',
    help: 'Segment requests by outcome: hit (read from the store), memory_hit (in the API process\'s memory copy of hot renders), miss (this request queued the render), joined (waited on a render already asked for), shed (overload 503), timeout (waited too long, 503), failed (render failed).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  new Counter({
    name: 'segment_renders_total',
    help: 'Renders completed by the workers (all worker processes, read from Redis), by mode.',
    labelNames: ['mode'],
    registers: [registry],
    async collect() {
      const counts = await sources.renderCounts().catch(() => null);
      if (!counts) return; // Redis unreachable: leave the last figures rather than fail the scrape.
      this.reset();
      for (const mode of ['copy', 'exact']) this.inc({ mode }, counts[mode] ?? 0);
    },
  });
  new Gauge({
    name: 'segment_waiting_requests',
    help: 'Requests of this API process waiting on a render now.',
    registers: [registry],
    collect() {
      this.set(sources.waitingRequests());
    },
  });
  return { registry, countSegment: (outcome) => segments.inc({ outcome }) };
}
