// Owns the Server-Sent Events stream of one render (GET /renders/{id}/events): its statuses in order, from
// the status now to done or failed, a heartbeat through proxies, and the end of every open stream when
// the server closes (an open stream would hold app.close() until its render ends). A stream never waits
// on one event alone: at each heartbeat it reads the status again (the final event may be lost with a
// Redis failover or a dropped connection), and it ends after a maximum life, asking the client to
// reconnect soon, so no stream stays open for ever.
import type { FastifyReply } from 'fastify';
import { RenderNotFound } from '../errors.js';
import type { RenderEvent, RenderEvents } from '../queue/render-events.js';
import type { RenderState, RenderStatus } from '../use-cases/render-status.js';
import { type RenderStatusBody, type StatusContext, statusBody } from './render-status-reply.js';

/** The events stream's `retry:`: how long an EventSource waits before reconnecting to an ended stream. */
export const EVENTS_RETRY_MS = 86_400_000;
/** A stream ended by its maximum life (not by its render) asks for a reconnection this soon instead. */
export const EVENTS_RECONNECT_MS = 1_000;
/** The longest a stream stays open: a render queued for longer is followed on a new stream. */
export const EVENTS_MAX_LIFE_MS = 3_600_000;

export interface EventStreams {
  /** Answers with the stream of render `id`; rejects with RenderNotFound before anything is sent. */
  open(id: string, context: StatusContext, reply: FastifyReply): Promise<void>;
  /** Ends every open stream. */
  endAll(): void;
}

const isFinal = (body: RenderStatusBody) => body.status === 'done' || body.status === 'failed';

export function renderNotFound(id: string): RenderNotFound {
  return new RenderNotFound(
    `No render ${id} is known: it was never asked for, its failure is no longer remembered, or it was removed from the store; ask for the segment again.`,
  );
}

/** What a stream says when the render it followed is no longer known (the status read found nothing). */
const VANISHED: RenderState = {
  status: 'failed',
  failure: { status: 503, detail: 'The render finished but is no longer in the store; ask for it again.', permanent: false },
};

export function createEventStreams(deps: {
  renderStatus: RenderStatus;
  renderEvents: RenderEvents;
  heartbeatMs: number;
  /** EVENTS_MAX_LIFE_MS unless given (tests). */
  maxLifeMs?: number;
}): EventStreams {
  const maxLifeMs = deps.maxLifeMs ?? EVENTS_MAX_LIFE_MS;
  const openStreams = new Set<() => void>();

  /** The state an event leads to; a completion is read from the store, which holds the segment's URL. */
  async function stateAfter(id: string, event: RenderEvent): Promise<RenderState> {
    switch (event.type) {
      case 'queued':
        return { status: 'queued' };
      case 'active':
        return { status: 'rendering' };
      case 'progress':
        return { status: 'rendering', percent: event.percent };
      case 'failed':
        return { status: 'failed', failure: event.failure };
      case 'completed':
        return (await deps.renderStatus.read(id)) ?? VANISHED;
    }
  }

  async function open(id: string, context: StatusContext, reply: FastifyReply): Promise<void> {
    // Events are applied in order, after the first status: subscribed before it is read, so none is missed.
    let opened!: () => void;
    let chain = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const apply = (event: RenderEvent) => {
      chain = chain
        .then(() => stateAfter(id, event))
        .then(
          (state) => send(statusBody(id, state, context), event.type === 'active'),
          () => end(),
        );
    };
    /** The status read again, in order with the events: only an end it finds is news (a lost final event). */
    const reread = () => {
      chain = chain
        .then(() => deps.renderStatus.read(id))
        .then(
          (state) => {
            const body = statusBody(id, state ?? VANISHED, context);
            if (isFinal(body)) send(body);
          },
          () => undefined, // Redis unreachable for now: the next heartbeat reads again
        );
    };
    const unsubscribe = deps.renderEvents.subscribe(id, apply);
    let initial: RenderState | null;
    try {
      initial = await deps.renderStatus.read(id);
    } catch (error) {
      unsubscribe();
      throw error;
    }
    if (!initial) {
      unsubscribe();
      throw renderNotFound(id);
    }

    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // nginx passes each event on at once instead of buffering the stream (proxy_buffering off too).
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // A browser's EventSource reconnects whenever a stream ends, by default after about 3 s; the stream
    // ends after done or failed, so the client closes it then (docs/api.md), and a day stands in for never.
    response.write(`retry: ${EVENTS_RETRY_MS}\n\n`);
    let last: RenderStatusBody | null = null;
    let ended = false;
    const heartbeat = setInterval(() => {
      response.write(': heartbeat\n\n');
      reread();
    }, deps.heartbeatMs);
    const lifetime = setTimeout(() => {
      response.write(`retry: ${EVENTS_RECONNECT_MS}\n\n`);
      end();
    }, maxLifeMs);
    function end() {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      clearTimeout(lifetime);
      unsubscribe();
      openStreams.delete(end);
      response.end();
    }
    /** `attempt`: the job (re)started ('active'), so its percent starts again from nothing. */
    function send(body: RenderStatusBody, attempt = false) {
      if (ended) return;
      // Percent never goes back within an attempt (a late event after a newer reading), and an unchanged
      // status is not repeated.
      if (!attempt && last && body.status === 'rendering' && last.status === 'rendering' && (body.percent ?? -1) <= (last.percent ?? -1))
        return;
      if (last && JSON.stringify(last) === JSON.stringify(body)) return;
      last = body;
      response.write(`data: ${JSON.stringify(body)}\n\n`);
      if (isFinal(body)) end();
    }
    openStreams.add(end);
    response.once('close', end);
    send(statusBody(id, initial, context));
    opened();
  }

  return {
    open,
    endAll() {
      for (const end of [...openStreams]) end();
    },
  };
}
