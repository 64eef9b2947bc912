// Owns the Retry-After policy: how many seconds each kind of 503 tells a client to wait. Every Unavailable
// names its reason from this table, so the waits are chosen in one place and can be compared at a glance.
export const RETRY_AFTER = {
  /** Too many requests wait or too many jobs are queued: long enough for a few renders to drain. */
  overloaded: 2,
  /** A render failed on a passing fault or ran out of time (also how long such a failure is remembered). */
  renderFailed: 5,
  /** A request waited past WAIT_TIMEOUT_MS: its render goes on and fills the store for the retry. */
  stillRendering: 5,
  /** Redis (the queue) cannot be reached from the request path. */
  queueUnreachable: 5,
  /** Probing a source took too long. */
  probeSlow: 5,
  /** The HTTP origin failed (5xx, a timeout, a reset) after its retries: it may be back in a few seconds. */
  originFailed: 5,
  /** This API process is shutting down or restarting. */
  shuttingDown: 5,
  /** nginx got no answer from the API (down, restarting or stalled): its own 502/503/504 (nginx.conf). */
  frontNoAnswer: 5,
  /** Not ready: Redis or the workers are missing (GET /readyz). */
  notReady: 5,
  /** A render was evicted between its completion and its answer: asking again renders or finds it. */
  renderEvicted: 1,
} as const;

export type RetryReason = keyof typeof RETRY_AFTER;
