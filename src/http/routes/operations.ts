// Owns the operator endpoints: /healthz (the process lives), /readyz (Redis answers, workers are there),
// /metrics (Prometheus text).
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../observability/metrics.js';
import { RETRY_AFTER } from '../../retry-after.js';
import { problemType, sendProblem } from '../problem-handler.js';

export interface OperationsDeps {
  metrics: Metrics;
  /** What stops this process from rendering now, in words; empty when ready. */
  missingForReadiness: () => Promise<string[]>;
}

/**
 * Probes and scrapes come every few seconds (the stack's own start, load balancers, Prometheus): their
 * request lines would bury everyone else's, so they log at warn and above only.
 */
const PROBE = { logLevel: 'warn' } as const;

export async function operationRoutes(app: FastifyInstance, deps: OperationsDeps) {
  app.get('/healthz', PROBE, async () => ({ status: 'ok' }));

  app.get('/readyz', PROBE, async (_request, reply) => {
    const missing = await deps.missingForReadiness();
    if (missing.length === 0) return reply.header('cache-control', 'no-store').send({ status: 'ready' });
    reply.header('retry-after', String(RETRY_AFTER.notReady));
    return sendProblem(reply, {
      type: problemType('not-ready'),
      title: 'Not ready',
      status: 503,
      detail: `Not ready: ${missing.join('; ')}.`,
    });
  });

  app.get('/metrics', PROBE, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.header('content-type', deps.metrics.registry.contentType).header('cache-control', 'no-store').send(text);
  });
}
