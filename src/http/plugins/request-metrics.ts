// Owns counting every answer of the API in http_requests_total: one onResponse hook for the whole app
// (fastify-plugin lifts it out of encapsulation), labelled by the route *pattern* so that random URLs
// cannot grow the number of series.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Metrics } from '../../observability/metrics.js';

async function requestMetrics(app: FastifyInstance, options: { metrics: Metrics }) {
  app.addHook('onResponse', async (request, reply) => {
    // No route matched (404s, probes for /wp-login.php...): one series for all of them.
    options.metrics.countRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode);
  });
}

export const requestMetricsPlugin = fp(requestMetrics, { name: 'request-metrics', fastify: '5.x' });
