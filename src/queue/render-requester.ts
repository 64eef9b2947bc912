// Owns the miss path: register the wait, add the job whose id is the render key (a job already queued or
// running under that id is joined, not duplicated), then check the store again in case the render
// finished before we were listening (BullMQ issues #383 and #85), and wait.
import type { Queue } from 'bullmq';
import { Unavailable } from '../errors.js';
import type { RenderStore } from '../store/render-store.js';
import { JOB_NAME, RENDER_JOB_OPTIONS, type RenderJobData, type RenderResult } from './render-job.js';
import type { RenderWaiter } from './render-waiter.js';

/** Too many requests already wait: a new miss is refused at once rather than piling up. */
export class Overloaded extends Unavailable {}

export type MissOutcome = 'miss' | 'joined';

export interface RenderRequester {
  /** Resolves once the key is in the store. Rejects with a ServiceError (422/503) or WaitAbandoned. */
  request(data: RenderJobData, signal: AbortSignal): Promise<MissOutcome>;
}

export function createRenderRequester(deps: {
  queue: Queue<RenderJobData, RenderResult>;
  waiter: RenderWaiter;
  store: RenderStore;
  waitTimeoutMs: number;
  maxWaitingRequests: number;
}): RenderRequester {
  const { queue, waiter, store } = deps;
  return {
    async request(data, signal) {
      if (waiter.waiting >= deps.maxWaitingRequests) {
        throw new Overloaded(`${deps.maxWaitingRequests} requests are already waiting on renders; retry shortly.`, 2);
      }
      // Registered before add(): a completion can never slip between adding and listening.
      const ticket = waiter.wait(data.key, { timeoutMs: deps.waitTimeoutMs, signal });
      if (!ticket.joined) {
        try {
          await queue.add(JOB_NAME, data, { ...RENDER_JOB_OPTIONS, jobId: data.key });
        } catch (error) {
          waiter.settle(data.key, new Unavailable('The render queue (Redis) cannot be reached; retry shortly.', 5, { cause: error }));
        }
        // Completed jobs are removed at once, so a render that finished before add() shows only in the store.
        if (await store.has(data.key)) waiter.settle(data.key);
      }
      await ticket.done;
      return ticket.joined ? 'joined' : 'miss';
    },
  };
}
