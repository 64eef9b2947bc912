// The events stream of GET /renders/{id}/events, on a real Fastify server, with the queue's events played by
// hand: what a retry looks like (delayed, then active again) and what keeps an EventSource from reconnecting.
import { EventEmitter } from 'node:events';
import type { QueueEvents } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_RECONNECT_MS, EVENTS_RETRY_MS } from '../../../src/http/render-events-stream.js';
import { type RenderRouteDeps, renderRoutes } from '../../../src/http/routes/renders.js';
import { createRenderEvents } from '../../../src/queue/render-events.js';
import type { RenderFailure } from '../../../src/render/render-failure.js';
import type { RenderState } from '../../../src/use-cases/render-status.js';

const ID = '0123456789abcdef0123456789abcdef';
const RENDERING: RenderState = { status: 'rendering', percent: 50 };
const CUT_FAILURE: RenderFailure = { status: 422, detail: 'cannot be cut', permanent: true };
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/**
 * Opens the stream on a server whose render starts `rendering` at 50 %; `queue` emits the job's events.
 * `later`: what the status reads after the first read (still rendering at 50 % unless given).
 */
async function openStream(options: { later?: RenderState; heartbeatMs?: number; maxLifeMs?: number } = {}) {
  const queue = new EventEmitter();
  let reads = 0;
  const deps = {
    renderStatus: {
      read: async (): Promise<RenderState> => (reads++ === 0 ? RENDERING : (options.later ?? RENDERING)),
    },
    eventsHeartbeatMs: options.heartbeatMs,
    eventsMaxLifeMs: options.maxLifeMs,
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
  let closed = false;
  /** Reads until the stream holds `count` data lines (or ends); returns the whole text so far. */
  async function until(count: number): Promise<string> {
    while ((text.match(/^data: /gm) ?? []).length < count) {
      const { value, done } = await reader.read();
      if (done) {
        closed = true;
        break;
      }
      text += value;
    }
    return text;
  }
  /** Reads until the server ends the stream; returns the whole text. */
  async function toEnd(): Promise<string> {
    while (!closed) await until(Number.MAX_SAFE_INTEGER);
    return text;
  }
  await until(1);
  return {
    queue,
    until,
    toEnd,
    statuses: () =>
      [...text.matchAll(/^data: (.*)$/gm)].map(
        (m) => JSON.parse(m[1]!) as { status: string; percent?: number; problem?: { status: number; detail: string } },
      ),
  };
}

describe('GET /renders/{id}/events', () => {
  it("ends with the render's final status read again at a heartbeat, when its final event was lost", async () => {
    const stream = await openStream({ later: { status: 'failed', failure: CUT_FAILURE }, heartbeatMs: 50 });
    // No event is emitted: only the status read at a heartbeat can end this stream.
    await stream.toEnd();
    expect(stream.statuses().map(({ status }) => status)).toEqual(['rendering', 'failed']);
  });

  it('ends after its maximum life even while the render goes on, asking the client to reconnect soon', async () => {
    const stream = await openStream({ maxLifeMs: 200 });
    const text = await stream.toEnd();
    expect(stream.statuses().map(({ status }) => status)).toEqual(['rendering']);
    expect(text).toMatch(new RegExp(`retry: ${EVENTS_RECONNECT_MS}\\n\\n$`));
  });

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
