import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequest, RangeNotSatisfiable, SourceNotFound, Unavailable, Unprocessable } from '../../../src/errors.js';
import { handleErrors } from '../../../src/http/problem-handler.js';
import { RETRY_AFTER } from '../../../src/retry-after.js';
import { QUERY_PARAMETERS, segmentQuerySchema } from '../../../src/segments/render-options.js';

let app: FastifyInstance;

beforeAll(async () => {
  // The query options of src/app.ts: unknown parameters are kept so the schema can refuse them.
  app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  handleErrors(app);
  app.get('/bad-request', async () => {
    throw new BadRequest("'start' must be a number of seconds such as 90 or 754.5 (got 'x').");
  });
  app.get('/not-found', async () => {
    throw new SourceNotFound("There is no source 'shows/ep43'.");
  });
  app.get('/unprocessable', async () => {
    throw new Unprocessable("'start' (120 s) is at or past the end of the source, which lasts 90 s.");
  });
  app.get('/range', async () => {
    throw new RangeNotSatisfiable(5_000);
  });
  app.get('/unavailable', async () => {
    throw new Unavailable('Too many requests are waiting for renders; retry shortly.', 'overloaded');
  });
  app.get('/bug', async () => {
    throw new Error('ENOENT: /srv/secret/path/ffmpeg crashed');
  });
  app.get('/bug-sync', () => {
    throw new TypeError("Cannot read properties of undefined (reading 'internal')");
  });
  app.get('/query', { schema: { querystring: segmentQuerySchema } }, async () => 'ok');
  await app.ready();
});

afterAll(async () => {
  await app.close();
});

async function problem(url: string) {
  const response = await app.inject({ method: 'GET', url });
  expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  expect(response.headers['cache-control']).toBe('no-store');
  return { response, body: response.json() as Record<string, unknown> };
}

describe('handleErrors', () => {
  it.each([
    ['/bad-request', 400, 'bad-request', 'Malformed request', "'start' must be a number of seconds such as 90 or 754.5 (got 'x')."],
    ['/not-found', 404, 'source-not-found', 'No such source', "There is no source 'shows/ep43'."],
    [
      '/unprocessable',
      422,
      'unprocessable',
      'Cannot render this segment',
      "'start' (120 s) is at or past the end of the source, which lasts 90 s.",
    ],
    [
      '/range',
      416,
      'range-not-satisfiable',
      'Range not satisfiable',
      'The requested range is outside the 5000-byte body; ask for bytes 0-4999.',
    ],
    ['/unavailable', 503, 'unavailable', 'Service unavailable', 'Too many requests are waiting for renders; retry shortly.'],
  ])('answers %s with a %d problem carrying its public detail', async (url, status, slug, title, detail) => {
    const { response, body } = await problem(url);
    expect(response.statusCode).toBe(status);
    expect(body).toEqual({ type: `urn:mp3-segments:problem:${slug}`, title, status, detail, instance: url });
  });

  it('answers 416 with Content-Range naming the body size', async () => {
    const { response } = await problem('/range');
    expect(response.headers['content-range']).toBe('bytes */5000');
  });

  it('answers 503 with Retry-After', async () => {
    const { response } = await problem('/unavailable');
    expect(response.headers['retry-after']).toBe(String(RETRY_AFTER.overloaded));
  });

  it('adds neither Retry-After nor Content-Range to other problems', async () => {
    const { response } = await problem('/not-found');
    expect(response.headers['retry-after']).toBeUndefined();
    expect(response.headers['content-range']).toBeUndefined();
  });

  it.each(['/bug', '/bug-sync'])('answers an untyped error from %s with a 500 that leaks nothing of it', async (url) => {
    const { response, body } = await problem(url);
    expect(response.statusCode).toBe(500);
    expect(body).toMatchObject({ type: 'urn:mp3-segments:problem:internal', title: 'Internal error', status: 500 });
    expect(body.detail).toMatch(/^Something failed on our side; quote request id \S+ when reporting it\.$/);
    expect(response.body).not.toMatch(/ENOENT|secret|ffmpeg|TypeError|undefined|stack/);
  });

  it('answers an unknown route with a 404 problem', async () => {
    const { response, body } = await problem('/nowhere?x=1');
    expect(response.statusCode).toBe(404);
    expect(body).toEqual({
      type: 'urn:mp3-segments:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: 'Nothing is served at GET /nowhere; segments are at /segments/{source}/{start}-{end}.mp3.',
    });
  });

  it('answers an unknown query parameter with a 400 problem listing the known ones', async () => {
    const { response, body } = await problem('/query?utm_source=x');
    expect(response.statusCode).toBe(400);
    expect(body).toMatchObject({ type: 'urn:mp3-segments:problem:bad-request', title: 'Malformed request', status: 400 });
    expect(body.detail).toBe(
      "Unknown query parameter 'utm_source'; this URL takes only: mode, bitrate, channels, fade_in, fade_out, download, sig.",
    );
  });

  it.each([
    ['/query?mode=fast', 'mode'],
    ['/query?mode=copy&mode=exact', 'mode'],
    ['/query?bitrate=100', 'bitrate'],
    ['/query?fade_in=1e3', 'fade_in'],
  ])('answers %s with a 400 problem saying what %s takes', async (url, name) => {
    const { response, body } = await problem(url);
    expect(response.statusCode).toBe(400);
    expect(body.detail).toBe(`Query parameter '${name}' takes ${QUERY_PARAMETERS[name as keyof typeof QUERY_PARAMETERS]}, given once.`);
  });

  it('lets a valid query through', async () => {
    const response = await app.inject({ method: 'GET', url: '/query?mode=exact&bitrate=192&download=1' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('ok');
  });
});
