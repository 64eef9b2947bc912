// Owns the queue dashboard: Bull Board (@bull-board/fastify) at /admin/queues, behind the ADMIN_TOKEN guard
// (admin-access.ts), with a login form at /admin/login for browsers. Registered by buildApp only when
// ADMIN_TOKEN is set, so without it every /admin URL is the app's ordinary 404. Nothing under /admin is
// ever cached (no-store here, and nginx's /admin/ location has no proxy_cache).
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { problemType, sendProblem } from '../problem-handler.js';
import { createAdminAccess, type AdminAccess } from './admin-access.js';

export const ADMIN_BOARD_PATH = '/admin/queues';
const LOGIN_PATH = '/admin/login';
/** A login form posts one short field; anything larger is not a login. */
const LOGIN_BODY_LIMIT = 4_096;

export interface AdminBoardOptions {
  token: string;
  queues: readonly Queue[];
}

const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mp3-segments admin</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 24rem; margin: 4rem auto">
<h1>Queue dashboard</h1>
<form method="post" action="${LOGIN_PATH}">
<label>Admin token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Open the dashboard</button>
</form></body></html>
`;

function refuse(request: FastifyRequest, reply: FastifyReply) {
  // The request's line (at info) has its 401 already.
  request.log.debug({ path: request.url.split('?')[0] }, 'admin request without a valid token');
  reply.header('www-authenticate', 'Bearer realm="mp3-segments admin"');
  return sendProblem(reply, {
    type: problemType('unauthorized'),
    title: 'Admin token required',
    status: 401,
    detail: `The queue dashboard needs the ADMIN_TOKEN: send "Authorization: Bearer <token>", or log in with a browser at ${LOGIN_PATH}.`,
  });
}

/** The form's token field; a login is a POST so the token never lands in a URL or an access log. */
async function loginRoutes(app: FastifyInstance, access: AdminAccess) {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: LOGIN_BODY_LIMIT },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  app.get(LOGIN_PATH, async (_request, reply) => reply.type('text/html; charset=utf-8').send(LOGIN_PAGE));
  app.post<{ Body: { token?: unknown } }>(LOGIN_PATH, async (request, reply) => {
    const token = request.body?.token;
    if (typeof token !== 'string' || !access.accepts(token)) return refuse(request, reply);
    // Behind a TLS terminator the browser speaks HTTPS even though nginx and the API speak HTTP.
    const secure = request.headers['x-forwarded-proto'] === 'https';
    return reply.header('set-cookie', access.newSessionCookie(secure)).redirect(ADMIN_BOARD_PATH, 303);
  });
}

async function boardRoutes(app: FastifyInstance, options: AdminBoardOptions & { access: AdminAccess }) {
  app.addHook('onRequest', async (request, reply) => {
    if (!options.access.allows(request.headers)) return refuse(request, reply);
  });
  const serverAdapter = new FastifyAdapter().setBasePath(ADMIN_BOARD_PATH);
  createBullBoard({
    // Read-only: a job added or edited by hand would bypass the API's checks (its key is the render's
    // identity). Pre-rendering and purging are `segments warm` and `segments purge`.
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'mp3-segments', hideDocsLink: true } },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: ADMIN_BOARD_PATH });
}

async function adminBoard(app: FastifyInstance, options: AdminBoardOptions) {
  const access = createAdminAccess(options.token);
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  await app.register(loginRoutes, access);
  await app.register(boardRoutes, { ...options, access });
}

// Encapsulated on purpose: the guard, the form parser and Bull Board's own error handler stay under /admin.
export const adminBoardPlugin = fp(adminBoard, { name: 'admin-board', fastify: '5.x', encapsulate: true });
