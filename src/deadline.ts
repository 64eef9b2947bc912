// Owns bounding a wait on something outside the process (Redis for readiness and metrics): an operator's
// probe or scrape must answer within its own timeout with what is unreachable, not hang with it.

/** A wait on an outside service passed its deadline. */
export class DeadlinePassed extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlinePassed';
  }
}

/** `promise`'s outcome, or DeadlinePassed after `ms`; the timer never keeps the process alive. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlinePassed(what, ms)), ms);
    timer.unref();
  });
  promise.catch(() => undefined); // read by the race, or dropped after the deadline
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
