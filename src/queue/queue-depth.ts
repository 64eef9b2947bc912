// Owns how deep the render queue is, as the miss path sees it: jobs waiting for a worker in Redis (all API
// processes together), read at most every `maxAgeMs` and shared by every miss in between, plus the jobs
// this process added since that reading, so a burst of misses cannot overshoot the limit between readings.
import type { Queue } from 'bullmq';

export interface QueueDepth {
  /** Jobs waiting for a worker now (not the ones being rendered). Rejects when Redis cannot be read. */
  current(): Promise<number>;
  /** This process just added a job: count it until the next reading. */
  added(): void;
}

/** The states a job is in between add() (or a retry) and a worker taking it. */
const QUEUED_STATES = ['waiting', 'prioritized', 'delayed'] as const;

export function createQueueDepth(queue: Pick<Queue, 'getJobCounts'>, options: { maxAgeMs: number; now?: () => number }): QueueDepth {
  const now = options.now ?? Date.now;
  let reading: { depth: number; at: number } | null = null;
  let addedSince = 0;
  let inFlight: Promise<number> | null = null;

  function read(): Promise<number> {
    inFlight ??= queue
      .getJobCounts(...QUEUED_STATES)
      .then((counts) => {
        const depth = QUEUED_STATES.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
        reading = { depth, at: now() };
        addedSince = 0;
        return depth;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  }

  return {
    async current() {
      if (reading && now() - reading.at < options.maxAgeMs) return reading.depth + addedSince;
      return (await read()) + addedSince;
    },
    added() {
      addedSince += 1;
    },
  };
}
