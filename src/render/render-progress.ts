// Owns turning ffmpeg's progress (seconds of output written) into the job's progress: a whole percent of
// the segment's length, reported only when it rises and at most every `minIntervalMs`, so a long render
// costs a handful of Redis writes, not one per stats line.

/** Below 100 while ffmpeg runs: the checks and the publish come after it; 'done' is the render's 100 %. */
const MAX_RUNNING_PERCENT = 99;

export function throttledPercent(options: {
  /** The segment's length: what 100 % of ffmpeg's output time is. */
  totalMs: number;
  minIntervalMs: number;
  report(percent: number): void;
  now?: () => number;
}): (seconds: number) => void {
  const now = options.now ?? Date.now;
  let reported = -1;
  // The first report waits one interval too: a render shorter than that (most copies) writes no progress,
  // which no one could have watched, instead of a Redis write and an event to every API process.
  let reportedAt = now();
  return (seconds) => {
    const percent = Math.min(MAX_RUNNING_PERCENT, Math.floor((seconds * 1000 * 100) / Math.max(1, options.totalMs)));
    if (percent <= reported || now() - reportedAt < options.minIntervalMs) return;
    reported = percent;
    reportedAt = now();
    options.report(percent);
  };
}
