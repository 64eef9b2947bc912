// Helpers for unit tests of the render queue on a real Redis: a QueueEvents known to be reading the stream,
// and render jobs with fresh keys (so the tests of one file never see each other's events).
import { randomBytes } from 'node:crypto';
import { QueueEvents, type QueueEventsListener, QueueEventsProducer } from 'bullmq';
import { QUEUE_NAME, type RenderJob } from '../../src/queue/render-job.js';

const PROBE = 'test-listening-probe';

/**
 * A QueueEvents on the render queue that has read at least one event. BullMQ starts reading the stream at
 * '$' only once its connection is up, after waitUntilReady() has resolved: an event published in between is
 * never delivered. Probing until one arrives removes that window from the tests.
 */
export async function listeningQueueEvents(url: string): Promise<QueueEvents> {
  const events = new QueueEvents(QUEUE_NAME, { connection: { url } });
  const producer = new QueueEventsProducer(QUEUE_NAME, { connection: { url } });
  try {
    const heard = new Promise<true>((resolve) => events.once<QueueEventsListener & { [PROBE]: () => void }>(PROBE, () => resolve(true)));
    for (let attempt = 0; attempt < 200; attempt += 1) {
      await producer.publishEvent({ eventName: PROBE });
      const pause = new Promise<false>((resolve) => setTimeout(() => resolve(false), 50));
      if (await Promise.race([heard, pause])) return events;
    }
    await events.close();
    throw new Error('QueueEvents never received an event');
  } finally {
    await producer.close();
  }
}

/** A render key nobody else uses: 32 hex digits, like the real ones. */
export function freshKey(): string {
  return randomBytes(16).toString('hex');
}

/** A copy job for a fresh key, as the API builds one. */
export function testRenderJob(key = freshKey()): RenderJob {
  return {
    key,
    source: { path: ['demo', 'tones'], size: 123_456, mtimeMs: 1_700_000_000_000 },
    spec: { startMs: 10_000, endMs: 20_000, options: { mode: 'copy' }, sampleRate: 44_100 },
    requestId: `req-${key.slice(0, 8)}`,
  };
}
