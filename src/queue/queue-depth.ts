// Owns how deep the render queue is, as the miss path sees it: jobs waiting for a worker in Redis (all API
// processes together), read at most every `maxAgeMs` and shared by every miss in between, plus the jobs
// this process admitted since that reading, so a burst of misses cannot overshoot the limit between readings.
import type { Queue } from 'bullmq';

export interface QueueDepth {
  /** Jobs waiting for a worker now (not the ones being rendered). Rejects when Redis cannot be read. */
  current(): Promise<number>;
  /**
   * Counts one more job unless the queue already holds `limit`; the caller then adds it. Checked and counted
   * in one step, so a burst of concurrent misses on one reading cannot all pass the limit together.
   */
  admit(limit: number): Promise<boolean>;
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
