// Owns the Prometheus metrics of an API process. Figures of the whole cluster (renders, worker restarts,
// store bytes, queue depth) are read from Redis at scrape time, so every API process reports the same;
// request counts and outcomes are this process's own.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RenderClass } from '../queue/render-priority.js';
import { within } from '../deadline.js';
import { RENDER_MODES, type RenderMode } from '../render/render-spec.js';

const SEGMENT_OUTCOMES = ['hit', 'memory_hit', 'miss', 'joined', 'shed', 'timeout', 'failed'] as const;
export type SegmentOutcome = (typeof SEGMENT_OUTCOMES)[number];

/** How a segment answer got its bytes: stored already, rendered while it waited, or streamed as rendered. */
export const FIRST_BYTE_ANSWERS = ['stored', 'rendered', 'streamed'] as const;
export type FirstByteAnswer = (typeof FIRST_BYTE_ANSWERS)[number];

export interface Metrics {
  readonly registry: Registry;
  countSegment(outcome: SegmentOutcome): void;
  /** `route` is the route pattern (bounded), never the raw URL. */
  countRequest(route: string, method: string, status: number): void;
  observeRender(mode: RenderMode, seconds: number): void;
  observeQueueWait(seconds: number): void;
  /** From the request's arrival to its answer's first bytes being sent. */
  observeFirstByte(answer: FirstByteAnswer, seconds: number): void;
}

export interface MetricSources {
  renderCounts: () => Promise<Record<string, number>>;
  skippedRenders: () => Promise<number>;
  waitingRequests: () => number;
  queueDepth: () => Promise<number>;
  queueDepthByClass: () => Promise<Record<RenderClass, number>>;
  workerRestarts: () => Promise<number>;
  storeBytes: () => Promise<number>;
  /** Resolves when Redis answers a round trip (a PING). */
  redisAnswers: () => Promise<unknown>;
}

/** From a 36 ms short copy to a long exact re-encode near RENDER_TIMEOUT_MS's 120 s default. */
const RENDER_SECONDS_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** From a memory hit's fraction of a millisecond to WAIT_TIMEOUT_MS's 30 s default. */
const FIRST_BYTE_SECONDS_BUCKETS = [0.001, 0.005, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * How long a scrape waits for a figure from Redis: a scrape answers within a second whatever Redis does
 * (a stalled Redis would otherwise hold it until the connection's command timeout, or for ever).
 */
export const SCRAPE_READ_DEADLINE_MS = 800;

/** A figure read at scrape time, or null when Redis does not answer in time. */
function readInTime<T>(read: () => Promise<T>): Promise<T | null> {
  return within(read(), SCRAPE_READ_DEADLINE_MS, 'redis').catch(() => null);
}

/**
 * A figure read at scrape time. When Redis cannot be read the last figure stays rather than the scrape
 * failing; segment_redis_up and /readyz show Redis's own health.
 */
async function readOrKeep(read: () => Promise<number>, write: (value: number) => void): Promise<void> {
  const value = await readInTime(read);
  if (value !== null) write(value);
}

export function createMetrics(sources: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const segments = new Counter({
    name: 'segment_requests_total',
    help: "Segment requests by outcome: hit (read from the store), memory_hit (in the API process's memory copy of hot renders), miss (this request queued the render), joined (waited on a render already asked for), shed (overload 503), timeout (waited too long, 503), failed (render failed). Asynchronous asks (POST /renders, Prefer: respond-async) count as hit (already stored), miss (queued by this ask), joined (already queued or rendering), shed, or failed.",
    labelNames: ['outcome'],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'http_requests_total',
    help: "Requests answered by this API process, by route pattern (unmatched: no route), method and status. nginx cache HITs never reach the API and are not counted here (see nginx's access log).",
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const renderSeconds = new Histogram({
    name: 'segment_render_duration_seconds',
    help: "Render time in the workers (ffmpeg to publish), by mode, from the queue's completion events. Every API process sees every render: with several API processes, read one of them (or do not sum across them).",
    labelNames: ['mode'],
    buckets: RENDER_SECONDS_BUCKETS,
    registers: [registry],
  });
  new Counter({
    name: 'segment_renders_total',
    help: 'Renders completed by the workers (all worker processes, read from Redis), by mode.',
    labelNames: ['mode'],
    registers: [registry],
    async collect() {
      const counts = await readInTime(sources.renderCounts);
      if (!counts) return; // Redis unreachable: leave the last figures rather than fail the scrape.
      this.reset();
      for (const mode of RENDER_MODES) this.inc({ mode }, counts[mode] ?? 0);
    },
  });
  const queueWaitSeconds = new Histogram({
    name: 'segment_queue_wait_seconds',
    help: 'Time a rendered job waited from its add (its first, for a retry) to a worker taking it, from the completion events (every API process sees every render, as segment_render_duration_seconds).',
    buckets: RENDER_SECONDS_BUCKETS,
    registers: [registry],
  });
  const firstByteSeconds = new Histogram({
    name: 'segment_first_byte_seconds',
    help: "Time from a segment request's arrival at this API process to its answer's first bytes, by how it got them: stored (already in the store or memory), rendered (waited for the whole render), streamed (sent while rendered).",
    labelNames: ['answer'],
    buckets: FIRST_BYTE_SECONDS_BUCKETS,
    registers: [registry],
  });
  new Counter({
    name: 'segment_renders_skipped_total',
    help: 'Queued renders the workers skipped because every request that waited for them had gone and no asynchronous or background ask owned them (all workers, read from Redis).',
    registers: [registry],
    async collect() {
      await readOrKeep(sources.skippedRenders, (value) => {
        this.reset();
        this.inc(value);
      });
    },
  });
  new Gauge({
    name: 'segment_queue_depth_by_class',
    help: 'Render jobs waiting for a worker by class: interactive (a client waits for the bytes), async (Prefer: respond-async, POST /renders), background (Priority: u=7, as segments warm).',
    labelNames: ['class'],
    registers: [registry],
    async collect() {
      const byClass = await readInTime(sources.queueDepthByClass);
      if (!byClass) return;
      for (const [renderClass, depth] of Object.entries(byClass)) this.set({ class: renderClass }, depth);
    },
  });
  new Counter({
    name: 'segment_worker_restarts_total',
    help: 'Worker processes restarted after dying (all machines, counted in Redis by whoever restarted them).',
    registers: [registry],
    async collect() {
      await readOrKeep(sources.workerRestarts, (value) => {
        this.reset();
        this.inc(value);
      });
    },
  });
  new Gauge({
    name: 'segment_queue_depth',
    help: 'Render jobs waiting for a worker (all API processes together; the reading the miss path sheds on).',
    registers: [registry],
    async collect() {
      await readOrKeep(sources.queueDepth, (value) => this.set(value));
    },
  });
  new Gauge({
    name: 'segment_redis_up',
    help: `1 when Redis answered this scrape's PING within ${SCRAPE_READ_DEADLINE_MS} ms, else 0 (the figures read from Redis then keep their last values).`,
    registers: [registry],
    async collect() {
      const answered = await readInTime(async () => {
        await sources.redisAnswers();
        return true;
      });
      this.set(answered ? 1 : 0);
    },
  });
  new Gauge({
    name: 'segment_store_bytes',
    help: 'Bytes in the render store as counted by the workers (Redis); compare with STORE_MAX_BYTES.',
    registers: [registry],
    async collect() {
      await readOrKeep(sources.storeBytes, (value) => this.set(value));
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
  // Every series from the start (0), so a rate() or an alert on one sees it before its first event.
  for (const outcome of SEGMENT_OUTCOMES) segments.inc({ outcome }, 0);
  for (const mode of RENDER_MODES) renderSeconds.zero({ mode });
  for (const answer of FIRST_BYTE_ANSWERS) firstByteSeconds.zero({ answer });
  return {
    registry,
    countSegment: (outcome) => segments.inc({ outcome }),
    countRequest: (route, method, status) => requests.inc({ route, method, status: String(status) }),
    observeRender: (mode, seconds) => renderSeconds.observe({ mode }, seconds),
    observeQueueWait: (seconds) => queueWaitSeconds.observe(seconds),
    observeFirstByte: (answer, seconds) => firstByteSeconds.observe({ answer }, seconds),
  };
}
