// Owns the API's connections to the render queue, as a named Fastify plugin: the fail-fast Redis connection
// of the request path, the BullMQ Queue on it, the process's one QueueEvents subscription (on a blocking
// connection of its own), and what follows renders through it (the waiter, the events streams, the queue's
// depth, the failure memory). Waiting requests are ended at preClose (503 + Retry-After, so closing does not
// wait for their renders); the connections close in onClose, after the last answer.
import { Queue, QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { createFailureMemory, type FailureMemory } from '../../queue/failure-memory.js';
import { createQueueDepth, type QueueDepth } from '../../queue/queue-depth.js';
import { connectRedis } from '../../queue/redis-connection.js';
import { createRenderEvents, type RenderEvents } from '../../queue/render-events.js';
import type { PeaksJob, PeaksResult } from '../../queue/peaks-job.js';
import { QUEUE_NAME, type RenderJob, type RenderResult } from '../../queue/render-job.js';
import { createRenderStreams, type RenderStreams } from '../../queue/render-streams.js';
import { createRenderWaiter, type RenderWaiter } from '../../queue/render-waiter.js';
import { createWaitingCount, type WaitingCount } from '../../queue/waiting-count.js';

export interface RenderQueue {
  /** The request path's Redis connection: fails fast while Redis is down instead of hanging requests. */
  commands: Redis;
  queue: Queue<RenderJob, RenderResult>;
  /** The same queue (name and connection), for adding peaks jobs (queue/peaks-job.ts) with their own payload type. */
  peaksQueue: Queue<PeaksJob, PeaksResult>;
  events: QueueEvents;
  failures: FailureMemory;
  waiter: RenderWaiter;
  /** Where renders being written are followed from (render-streams.ts). */
  streams: RenderStreams;
  renderEvents: RenderEvents;
  queueDepth: QueueDepth;
  waitingCount: WaitingCount;
}

declare module 'fastify' {
  interface FastifyInstance {
    renderQueue: RenderQueue;
  }
}

/** Reads of the queue's depth are shared by every miss (and scrape) within this long: one round trip for all. */
const QUEUE_DEPTH_MAX_AGE_MS = 200;

async function renderQueue(app: FastifyInstance, options: { redisUrl: string; commandTimeoutMs: number }) {
  const commands = connectRedis(options.redisUrl, 'fail-fast', 'api', { commandTimeoutMs: options.commandTimeoutMs });
  const eventsConnection = connectRedis(options.redisUrl, 'blocking', 'api-events');
  const queue = new Queue<RenderJob, RenderResult>(QUEUE_NAME, { connection: commands });
  const peaksQueue = new Queue<PeaksJob, PeaksResult>(QUEUE_NAME, { connection: commands });
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
  queue.on('error', (error) => app.log.warn({ err: error.message }, 'queue connection error'));
  peaksQueue.on('error', (error) => app.log.warn({ err: error.message }, 'queue connection error'));
  events.on('error', (error) => app.log.warn({ err: error.message }, 'queue events connection error'));
  const failures = createFailureMemory(commands);
  const streams = createRenderStreams(commands);
  const waiter = createRenderWaiter(events, failures, streams);
  const renderEvents = createRenderEvents(events, failures);

  app.addHook('preClose', async () => waiter.close());
  app.addHook('onClose', async () => {
    renderEvents.close();
    await events.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    await peaksQueue.close().catch(() => undefined);
    // Connections handed to BullMQ stay ours to close.
    await Promise.all([
      commands.quit().catch(() => commands.disconnect()),
      eventsConnection.quit().catch(() => eventsConnection.disconnect()),
    ]);
  });
  // Requests may wait only once the subscription is up. BullMQ starts reading the stream at '$' one round
  // trip after this resolves, so a render completed in that moment at boot is seen only by the requester's
  // second look at the store (test/helpers/render-queue.ts probes until an event arrives instead).
  await events.waitUntilReady();
  app.decorate('renderQueue', {
    commands,
    queue,
    peaksQueue,
    events,
    failures,
    waiter,
    streams,
    renderEvents,
    queueDepth: createQueueDepth(queue, { maxAgeMs: QUEUE_DEPTH_MAX_AGE_MS }),
    waitingCount: createWaitingCount(commands),
  });
}

export const renderQueuePlugin = fp(renderQueue, { name: 'render-queue', fastify: '5.x' });
