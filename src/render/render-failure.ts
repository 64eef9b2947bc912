// Owns how a render fails, as a value: the status the requests waiting on it are answered with, a public
// detail, and whether trying again could help. The pipeline throws it as RenderFailed; the job processor
// records it once (queue/failure-memory.ts) and the API reads that record, never an error's message.
import { type ServiceError, Unavailable, Unprocessable } from '../errors.js';
export interface RenderFailure {
  /** 422: this source cannot give this segment; 503: not now (out of time, out of disk, a passing fault). */
  status: 422 | 503;
  /** Safe to show the client. */
  detail: string;
  /** True when another attempt of the same render would fail the same way: the job is not retried. */
  permanent: boolean;
}

export class RenderFailed extends Error {
  constructor(readonly failure: RenderFailure) {
    super(failure.detail);
    this.name = 'RenderFailed';
  }
}

/** Fails the render for good: retrying would fail the same way. */
export function permanentFailure(status: RenderFailure['status'], detail: string): RenderFailed {
  return new RenderFailed({ status, detail, permanent: true });
}

/** Fails this attempt of the render: a later attempt may succeed (the job is retried). */
export function passingFailure(detail: string): RenderFailed {
  return new RenderFailed({ status: 503, detail, permanent: false });
}

/** The source ended before a range its index named: it changed since (the next attempt sees its new version). */
export function sourceChangedFailure(): RenderFailed {
  return passingFailure('The source file changed while the segment was being cut; retry.');
}

/** A render that failed without saying how (a worker that crashed or stalled): a passing fault. */
export const UNEXPLAINED_FAILURE: RenderFailure = {
  status: 503,
  detail: 'The render failed on a passing fault; try again in a few seconds.',
  permanent: false,
};

/** The answer for the requests that waited on a failed render: what its segment URL answers. */
export function failureAsServiceError(failure: RenderFailure): ServiceError {
  return failure.status === 422 ? new Unprocessable(failure.detail) : new Unavailable(failure.detail, 'renderFailed');
}
