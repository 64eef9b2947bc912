// Owns the mapping of every error to application/problem+json (RFC 9457): domain errors with their own
// status and public detail; schema and framework errors as 4xx; anything untyped is a bug, logged with the
// request id and answered without internals.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RangeNotSatisfiable, ServiceError, Unavailable } from '../errors.js';
import { RENDER_BODY_FIELDS } from '../segments/render-request-body.js';
import { noteForLog } from './request-log.js';
import { RENDER_ID_DESCRIPTION } from '../segments/render-key.js';
import { QUERY_PARAMETERS } from '../segments/render-options.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
}

export function problemType(slug: string): string {
  return `urn:mp3-segments:problem:${slug}`;
}

/** A domain error as a problem (without `instance`): also the `problem` of a failed render's status. */
export function problemOf(error: ServiceError): Problem {
  return { type: problemType(error.slug), title: error.title, status: error.status, detail: error.detail };
}

export function sendProblem(reply: FastifyReply, problem: Problem) {
  // The request's one log line says why (its status is there already).
  noteForLog(reply.request, { detail: problem.detail });
  return reply
    .code(problem.status)
    .header('content-type', 'application/problem+json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(JSON.stringify(problem));
}

interface SchemaIssue {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** POST /renders' JSON body and /renders/{id}'s id, in the words of their own fields. */
function describeBodyOrPath(issue: SchemaIssue, context: string): string {
  if (context === 'params') return `The URL's render id is malformed: it is ${RENDER_ID_DESCRIPTION}.`;
  const fields = Object.keys(RENDER_BODY_FIELDS).join(', ');
  if (issue.keyword === 'additionalProperties')
    return `Unknown field '${String(issue.params.additionalProperty)}'; the JSON body takes only: ${fields}.`;
  const name = (
    issue.keyword === 'required' ? String(issue.params.missingProperty) : issue.instancePath.replace(/^\//, '')
  ) as keyof typeof RENDER_BODY_FIELDS;
  const takes = RENDER_BODY_FIELDS[name];
  if (!takes) return `The body must be a JSON object with the fields: ${fields} (source, start and end required).`;
  return `${issue.keyword === 'required' ? 'Missing field' : 'Field'} '${name}': it takes ${takes}.`;
}

function describeValidation(issues: SchemaIssue[], context = 'querystring'): string {
  const issue = issues[0];
  if (issue && context !== 'querystring') return describeBodyOrPath(issue, context);
  const allowed = Object.keys(QUERY_PARAMETERS).join(', ');
  if (!issue) return 'The request does not match what this route takes.';
  if (issue.keyword === 'additionalProperties') {
    return `Unknown query parameter '${String(issue.params.additionalProperty)}'; this URL takes only: ${allowed}.`;
  }
  const name = issue.instancePath.replace(/^\//, '') as keyof typeof QUERY_PARAMETERS;
  const takes = QUERY_PARAMETERS[name];
  return takes ? `Query parameter '${name}' takes ${takes}, given once.` : `Invalid query parameter '${name}'.`;
}

function toProblem(error: FastifyError | Error, request: FastifyRequest): { problem: Problem; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  if (error instanceof ServiceError) {
    if (error instanceof Unavailable) headers['retry-after'] = String(error.retryAfterSeconds);
    if (error instanceof RangeNotSatisfiable) headers['content-range'] = `bytes */${error.size}`;
    return { problem: problemOf(error), headers };
  }
  const fastifyError = error as FastifyError & { validation?: SchemaIssue[] };
  if (fastifyError.validation) {
    const detail = describeValidation(fastifyError.validation, fastifyError.validationContext);
    return { problem: { type: problemType('bad-request'), title: 'Malformed request', status: 400, detail }, headers };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's own client errors (bad URL, body too large...) carry messages written for clients.
    return { problem: { type: problemType('bad-request'), title: 'Malformed request', status, detail: fastifyError.message }, headers };
  }
  request.log.error({ err: error }, 'unexpected error');
  return {
    problem: {
      type: problemType('internal'),
      title: 'Internal error',
      status: 500,
      detail: `Something failed on our side; quote request id ${request.id} when reporting it.`,
    },
    headers,
  };
}

export function handleErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { problem, headers } = toProblem(error, request);
    reply.headers(headers);
    return sendProblem(reply, { ...problem, instance: request.url.slice(0, 512) });
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, {
      type: problemType('not-found'),
      title: 'Not found',
      status: 404,
      detail: `Nothing is served at ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}; segments are at /segments/{source}/{start}-{end}.mp3.`,
    }),
  );
}

/** For Fastify's `frameworkErrors` option: router errors (bad percent-encoding...) as problems too. */
export function frameworkErrorHandler(error: FastifyError, _request: FastifyRequest, reply: FastifyReply) {
  const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 400;
  return sendProblem(reply, { type: problemType('bad-request'), title: 'Malformed request', status, detail: error.message });
}

/**
 * For Fastify's `clientErrorHandler`: Node rejects some requests before Fastify sees them (headers too
 * large, a broken request line); answer those as problems too, then close the connection.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (!socket.writable) return;
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify({
    type: problemType('bad-request'),
    title: 'Malformed request',
    status,
    detail: status === 431 ? 'The request headers are too large.' : 'The request could not be parsed as HTTP.',
  });
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `Content-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
