// Owns the API's Fastify instance: its options, error answers and closing behaviour (createApp), and its
// routes over the use cases (registerRoutes). Never listens (server.ts does) and touches no process
// globals; api.ts puts the two together around the connections.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Unavailable } from './errors.js';
import { type AdminBoardOptions, adminBoardPlugin } from './http/plugins/admin-board.js';
import { requestMetricsPlugin } from './http/plugins/request-metrics.js';
import { answerClientError, frameworkErrorHandler, handleErrors } from './http/problem-handler.js';
import { RequestLog } from './http/request-log.js';
import { clipPickerRoutes } from './http/routes/clip-picker.js';
import { type OperationsDeps, operationRoutes } from './http/routes/operations.js';
import { type RenderRouteDeps, renderRoutes } from './http/routes/renders.js';
import { type SegmentRouteDeps, segmentRoutes } from './http/routes/segments.js';
import { type SourceRouteDeps, sourceRoutes } from './http/routes/sources.js';

export type RouteDeps = SegmentRouteDeps &
  RenderRouteDeps &
  SourceRouteDeps &
  OperationsDeps & {
    /** The queue dashboard at /admin/queues; absent (no ADMIN_TOKEN) means every /admin URL is 404. */
    admin?: AdminBoardOptions;
  };

/** The Fastify instance with its options and error answers, no routes yet. */
export function createApp(logger: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    // nginx sets X-Request-Id; the id then follows the request into the render job and the worker's log.
    requestIdHeader: 'x-request-id',
    // One line per request, with the request id under the worker's key (http/request-log.ts).
    logController: new RequestLog(),
    genReqId: () => randomUUID(),
    // The API listens on loopback behind nginx, which adds the client's address to X-Forwarded-For:
    // request.ip is then the client's (its share of the render queue is counted by it).
    trustProxy: 'loopback',
    routerOptions: { maxParamLength: 4096 },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: answerClientError,
    // Keep unknown query parameters so the schema can refuse them (Fastify's default strips them).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // Our own 503 while closing (below): problem+json with Retry-After, like every other refusal.
    return503OnClosing: false,
  });
  RequestLog.allowNotes(app);
  handleErrors(app);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new Unavailable('The service is restarting; retry shortly.', 'shuttingDown');
  });
  return app;
}

export async function registerRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  // Before the routes: its onResponse hook counts every answer, refusals and 404s included.
  await app.register(requestMetricsPlugin, { metrics: deps.metrics });
  await app.register(segmentRoutes, deps);
  await app.register(renderRoutes, deps);
  await app.register(sourceRoutes, deps);
  await app.register(operationRoutes, deps);
  await app.register(clipPickerRoutes);
  if (deps.admin) await app.register(adminBoardPlugin, deps.admin);
}
