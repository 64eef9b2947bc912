// Owns the family of errors the domain throws: each carries its HTTP status, a problem type and a public
// detail a person can act on. Only http/problem-handler.ts turns them into responses.
import { RETRY_AFTER, type RetryReason } from './retry-after.js';

export abstract class ServiceError extends Error {
  abstract readonly status: number;
  abstract readonly title: string;
  /** Short slug; the problem's `type` URI is built from it in one place. */
  abstract readonly slug: string;
  /** Safe to show the client; internals stay in the log. */
  readonly detail: string;
  constructor(detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.detail = detail;
    this.name = new.target.name;
  }
}

/** 400: the request itself is malformed. */
export class BadRequest extends ServiceError {
  readonly status = 400;
  readonly title = 'Malformed request';
  readonly slug = 'bad-request';
}

/** 403: the deployment signs its URLs and this one's signature is missing or wrong. */
export class Forbidden extends ServiceError {
  readonly status = 403;
  readonly title = 'Signature required';
  readonly slug = 'forbidden';
}

/** 404: no source at that path. */
export class SourceNotFound extends ServiceError {
  readonly status = 404;
  readonly title = 'No such source';
  readonly slug = 'source-not-found';
}

/** 404: no render with that id is known (never asked for, its failure forgotten, or evicted). */
export class RenderNotFound extends ServiceError {
  readonly status = 404;
  readonly title = 'No such render';
  readonly slug = 'render-not-found';
}

/** 422: well-formed, but this source cannot give that segment (not decodable MP3, start past its end...). */
export class Unprocessable extends ServiceError {
  readonly status = 422;
  readonly title = 'Cannot render this segment';
  readonly slug = 'unprocessable';
}

/** 416: a Range outside the body. */
export class RangeNotSatisfiable extends ServiceError {
  readonly status = 416;
  readonly title = 'Range not satisfiable';
  readonly slug = 'range-not-satisfiable';
  constructor(readonly size: number) {
    super(`The requested range is outside the ${size}-byte body; ask for bytes 0-${Math.max(0, size - 1)}.`);
  }
}

/** 503: overloaded, not ready, or waited too long. Always answered with Retry-After. */
export class Unavailable extends ServiceError {
  readonly status = 503;
  readonly title = 'Service unavailable';
  readonly slug = 'unavailable';
  /** Seconds the client is told to wait (Retry-After), chosen by the one policy in retry-after.ts. */
  readonly retryAfterSeconds: number;
  constructor(detail: string, reason: RetryReason, options?: { cause?: unknown }) {
    super(detail, options);
    this.retryAfterSeconds = RETRY_AFTER[reason];
  }
}
