// The events stream of GET /renders/{id}/events, on a real Fastify server, with the queue's events played by
// hand: what a retry looks like (delayed, then active again) and what keeps an EventSource from reconnecting.
import { EventEmitter } from 'node:events';
import type { QueueEvents } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_RETRY_MS } from '../../../src/http/render-events-stream.js';
import { type RenderRouteDeps, renderRoutes } from '../../../src/http/routes/renders.js';
import { createRenderEvents } from '../../../src/queue/render-events.js';
import type { RenderFailure } from '../../../src/render/render-failure.js';

const ID = '0123456789abcdef0123456789abcdef';
const CUT_FAILURE: RenderFailure = { status: 422, detail: 'cannot be cut', permanent: true };
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Opens the stream on a server whose render starts `rendering` at 50 %; `queue` emits the job's events. */
async function openStream() {
  const queue = new EventEmitter();
  const deps = {
    renderStatus: { read: async () => ({ status: 'rendering', percent: 50 }) },
    // How the job failed comes from the failure memory, never from the event's text.
    renderEvents: createRenderEvents(queue as unknown as QueueEvents, { failureOf: async () => CUT_FAILURE }),
    signingKey: undefined,
  } as unknown as RenderRouteDeps;
  app = Fastify();
  await app.register(renderRoutes, deps);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const response = await fetch(`${base}/renders/${ID}/events`);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  /** Reads until the stream holds `count` data lines (or ends); returns the whole text so far. */
  async function until(count: number): Promise<string> {
    while ((text.match(/^data: /gm) ?? []).length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    return text;
  }
  await until(1);
  return {
    queue,
    until,
    statuses: () =>
      [...text.matchAll(/^data: (.*)$/gm)].map(
        (m) => JSON.parse(m[1]!) as { status: string; percent?: number; problem?: { status: number; detail: string } },
      ),
  };
}

describe('GET /renders/{id}/events', () => {
  it('begins with a retry: field of a day, so an EventSource does not reconnect to a stream that ended', async () => {
    const stream = await openStream();
    expect(await stream.until(1)).toMatch(new RegExp(`^retry: ${EVENTS_RETRY_MS}\\n\\ndata: `));
    expect(EVENTS_RETRY_MS).toBeGreaterThanOrEqual(3_600_000);
  });

  it('after a retry (delayed, then active again) shows queued, then the new attempt from its own lower percent', async () => {
    const stream = await openStream();
    stream.queue.emit('progress', { jobId: ID, data: 70 });
    stream.queue.emit('delayed', { jobId: ID, delay: 1000 });
    stream.queue.emit('active', { jobId: ID });
    stream.queue.emit('progress', { jobId: ID, data: 10 });
    stream.queue.emit('progress', { jobId: ID, data: 5 }); // late: never back within an attempt
    stream.queue.emit('waiting', { jobId: ID });
    stream.queue.emit('active', { jobId: ID });
    stream.queue.emit('progress', { jobId: ID, data: 20 });
    stream.queue.emit('failed', { jobId: ID, failedReason: 'cannot be cut' });
    await stream.until(10);
    expect(stream.statuses().map(({ status, percent }) => (percent === undefined ? status : `${status} ${percent}`))).toEqual([
      'rendering 50',
      'rendering 70',
      'queued',
      'rendering',
      'rendering 10',
      'queued',
      'rendering',
      'rendering 20',
      'failed',
    ]);
    // The failure recorded by the worker, as the segment URL would answer it.
    expect(stream.statuses().at(-1)?.problem).toMatchObject({ status: 422, detail: 'cannot be cut' });
  });
});
