// The API's request log (issue 18): one info line per answered request, "GET /url status" with its fields
// and the request id; the arrival only at debug; a refusal's line says why.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../src/app.js';
import { noteForLog } from '../../../src/http/request-log.js';

/** An app logging at `level` into an array of parsed lines, with one route that notes a segment outcome. */
async function appLoggingAt(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = createApp(pino({ level }, sink));
  app.get('/segments/*', async (request, reply) => {
    noteForLog(request, { outcome: 'hit' });
    return reply.header('content-length', '5').send('abcde');
  });
  await app.ready();
  return { app, lines };
}

describe('the request log line', () => {
  it('is one info line per request, with method, URL, status, outcome, bytes, time and the request id', async () => {
    const { app, lines } = await appLoggingAt('info');
    const response = await app.inject({ url: '/segments/demo/tones/1-2.mp3', headers: { 'x-request-id': 'r-1' } });
    expect(response.statusCode).toBe(200);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'GET /segments/demo/tones/1-2.mp3 200',
      method: 'GET',
      url: '/segments/demo/tones/1-2.mp3',
      status: 200,
      outcome: 'hit',
      bytes: 5,
      requestId: 'r-1',
    });
    expect(typeof lines[0]?.ms).toBe('number');
    await app.close();
  });

  it("logs the request's arrival at debug only", async () => {
    const { app, lines } = await appLoggingAt('debug');
    await app.inject({ url: '/segments/demo/tones/1-2.mp3', headers: { 'x-request-id': 'r-2' } });
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [20, 'incoming GET'],
      [30, 'GET /segments/demo/tones/1-2.mp3 200'],
    ]);
    await app.close();
  });

  it("carries a refusal's public detail in the same one line", async () => {
    const { app, lines } = await appLoggingAt('info');
    const response = await app.inject({ url: '/nothing-here' });
    expect(response.statusCode).toBe(404);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'GET /nothing-here 404', status: 404 });
    expect(String(lines[0]?.detail)).toContain('Nothing is served at GET /nothing-here');
    await app.close();
  });
});
