// Builds the API as one Fastify instance from its dependencies. Never listens (server.ts does), touches no
// process globals, so tests build the same app around a real store and queue.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { Unavailable } from './errors.js';
import { adminBoardPlugin, type AdminBoardOptions } from './http/plugins/admin-board.js';
import { requestMetricsPlugin } from './http/plugins/request-metrics.js';
import { answerClientError, frameworkErrorHandler, handleErrors } from './http/problem-handler.js';
import { demoPageRoutes } from './http/routes/demo-page.js';
import { operationRoutes, type OperationsDeps } from './http/routes/operations.js';
import { renderRoutes } from './http/routes/renders.js';
import { segmentRoutes, type SegmentRouteDeps } from './http/routes/segments.js';
import { sourceRoutes, type SourceRouteDeps } from './http/routes/sources.js';

const SHUTDOWN_RETRY_AFTER_SECONDS = 5;

export type AppDeps = SegmentRouteDeps &
  SourceRouteDeps &
  OperationsDeps & {
    logger: FastifyBaseLogger;
    /** The queue dashboard at /admin/queues; absent (no ADMIN_TOKEN) means every /admin URL is 404. */
    admin?: AdminBoardOptions;
  };

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger,
    // nginx sets X-Request-Id; the id then follows the request into the render job and the worker's log.
    requestIdHeader: 'x-request-id',
    // The same key as the worker's lines (workers/render.ts), so one grep follows a request across processes.
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 4096 },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: answerClientError,
    // Keep unknown query parameters so the schema can refuse them (Fastify's default strips them).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
    // Our own 503 while closing (below): problem+json with Retry-After, like every other refusal.
    return503OnClosing: false,
  });
  handleErrors(app);
  // Before the routes: its onResponse hook counts every answer, refusals and 404s included.
  await app.register(requestMetricsPlugin, { metrics: deps.metrics });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new Unavailable('The service is restarting; retry shortly.', SHUTDOWN_RETRY_AFTER_SECONDS);
  });
  await app.register(segmentRoutes, deps);
  await app.register(renderRoutes, deps);
  await app.register(sourceRoutes, deps);
  await app.register(operationRoutes, deps);
  await app.register(demoPageRoutes);
  if (deps.admin) await app.register(adminBoardPlugin, deps.admin);
  return app;
}
