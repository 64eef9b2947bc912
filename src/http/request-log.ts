// Owns the API's log line of each request (issue 18): one info line when its answer is out, "GET /url 200"
// with how a segment was obtained when that is known, its bytes, the time taken and the request id (an error
// level one when the answer failed); its arrival at debug. Fastify's own lines (two at info, each with a
// multi-line req/res block on a terminal) are replaced through its LogController, the class Fastify has for
// this. Routes and the error handler add what only they know with noteForLog.
import { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { SegmentOutcome } from '../observability/metrics.js';

/** What a request's line says beyond method, URL, status and time. */
export interface RequestLogNote {
  /** How a segment's bytes were obtained (segment_requests_total's outcome). */
  outcome?: SegmentOutcome;
  /** The render's size, where nginx sends its bytes from the store (the API's answer has no body then). */
  size?: number;
  /** A refusal's public detail (problem+json), so the one line says why. */
  detail?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    logNote: RequestLogNote | null;
  }
}

/** Adds to the request's log line. */
export function noteForLog(request: FastifyRequest, note: RequestLogNote): void {
  request.logNote = request.logNote ? { ...request.logNote, ...note } : note;
}

/** Long enough for any segment URL with its query; a hostile one is cut (nginx's access log has it whole). */
const URL_IN_LOG = 512;

export class RequestLog extends LogController {
  constructor() {
    // The same key as the worker's lines (use-cases/process-render-job.ts), so one grep follows a request across processes.
    super({ requestIdLogLabel: 'requestId' });
  }

  /** Lets every request carry a note for its line (null until a route or the error handler adds one). */
  static allowNotes(app: FastifyInstance): void {
    app.decorateRequest('logNote', null);
  }

  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: request.url.slice(0, URL_IN_LOG) }, `incoming ${request.method}`);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const url = request.url.slice(0, URL_IN_LOG);
    const note = request.logNote;
    // Handed over (X-Accel-Redirect), nginx sends the render's bytes: those are the bytes the client gets.
    const handedOver = reply.hasHeader('x-accel-redirect');
    const stated = reply.getHeader('content-length');
    const fields = {
      method: request.method,
      url,
      status: reply.statusCode,
      outcome: note?.outcome,
      bytes: handedOver ? note?.size : stated === undefined ? undefined : Number(stated),
      sentBy: handedOver ? 'nginx' : undefined,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      detail: note?.detail,
    };
    const message = `${request.method} ${url} ${reply.statusCode}`;
    if (error) reply.log.error({ ...fields, err: error }, message);
    else reply.log.info(fields, message);
  }

  /** Our own not-found handler answers it (problem+json); its request line says 404. */
  override routeNotFound(request: FastifyRequest): void {
    request.log.debug(`no route for ${request.method} ${request.url.slice(0, URL_IN_LOG)}`);
  }

  override streamError(error: Error & { code?: string }, request: FastifyRequest, reply: FastifyReply): void {
    // A listener that leaves mid-answer: its request line tells the rest.
    if (error.code === 'ERR_STREAM_PREMATURE_CLOSE') reply.log.debug('the client left before the answer ended');
    else super.streamError(error, request, reply);
  }
}
