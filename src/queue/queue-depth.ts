// Owns how deep the render queue is, as the miss path sees it: jobs waiting for a worker in Redis (all API
// processes together), read at most every `maxAgeMs` and shared by every miss in between, plus the jobs
// this process admitted since that reading, so a burst of misses cannot overshoot the limit between readings;
// and, for /metrics, the same queue counted by class.
import type { Queue } from 'bullmq';
import { CLASS_PRIORITIES, type RenderClass } from './render-priority.js';

export interface QueueDepth {
  /** Jobs waiting for a worker now (not the ones being rendered). Rejects when Redis cannot be read. */
  current(): Promise<number>;
  /**
   * Counts one more job unless the queue already holds `limit`; the caller then adds it. Checked and counted
   * in one step, so a burst of concurrent misses on one reading cannot all pass the limit together.
   */
  admit(limit: number): Promise<boolean>;
}

/** Jobs waiting for a worker by class (render-priority.ts), read from Redis: for /metrics, not the miss path. */
export async function queueDepthByClass(queue: Pick<Queue, 'getCountsPerPriority'>): Promise<Record<RenderClass, number>> {
  const counts = await queue.getCountsPerPriority(Object.values(CLASS_PRIORITIES).flat());
  const sum = (priorities: number[]) => priorities.reduce((total, priority) => total + (counts[String(priority)] ?? 0), 0);
  return {
    interactive: sum(CLASS_PRIORITIES.interactive),
    async: sum(CLASS_PRIORITIES.async),
    background: sum(CLASS_PRIORITIES.background),
  };
}

/** The states a job is in between add() (or a retry) and a worker taking it. */
const QUEUED_STATES = ['waiting', 'prioritized', 'delayed'] as const;

export function createQueueDepth(queue: Pick<Queue, 'getJobCounts'>, options: { maxAgeMs: number; now?: () => number }): QueueDepth {
  const now = options.now ?? Date.now;
  let reading: { depth: number; at: number } | null = null;
  let addedSince = 0;
  let inFlight: Promise<void> | null = null;

  /** Resolves once the reading is at most maxAgeMs old; concurrent callers share one Redis read. */
  async function freshReading(): Promise<{ depth: number }> {
    if (reading && now() - reading.at < options.maxAgeMs) return reading;
    inFlight ??= queue
      .getJobCounts(...QUEUED_STATES)
      .then((counts) => {
        reading = { depth: QUEUED_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0), at: now() };
        addedSince = 0;
      })
      .finally(() => {
        inFlight = null;
      });
    await inFlight;
    return reading!;
  }

  return {
    async current() {
      return (await freshReading()).depth + addedSince;
    },
    async admit(limit) {
      const { depth } = await freshReading();
      // No await from here on: the check and the count are one step for each caller.
      if (depth + addedSince >= limit) return false;
      addedSince += 1;
      return true;
    },
  };
}
