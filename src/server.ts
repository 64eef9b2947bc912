// The API process: configuration, startApi, listen on the API port, and a graceful stop on SIGTERM/SIGINT.
import { RedisUrlMissing, startApi } from './api.js';
import { loadConfigOrExit } from './config.js';
import { ToolNotExecutable } from './media/ffmpeg.js';
import { createLogger } from './observability/logger.js';

/**
 * A deep accept queue: a burst of new connections (10,000 players at once, the bench's crowd) otherwise
 * overflows Node's default 511 and some clients see their connection reset.
 */
const LISTEN_BACKLOG = 4_096;
/** EX_CONFIG: the configuration cannot work; a supervisor (systemd) does not restart the process. */
const EXIT_CONFIG = 78;

const config = loadConfigOrExit();
const logger = createLogger('api', config.logLevel);
const api = await startApi(config, { logger }).catch((error: unknown) => {
  if (error instanceof RedisUrlMissing) logger.fatal(error.message);
  else if (error instanceof ToolNotExecutable) process.stderr.write(`${error.message}\n`);
  else throw error;
  process.exit(EXIT_CONFIG);
});
await api.app.listen({ host: '127.0.0.1', port: config.apiPort, backlog: LISTEN_BACKLOG });
process.send?.({ type: 'ready', port: config.apiPort });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info(
    { signal, waiting: api.app.renderQueue.waiter.waiting },
    'stopping: waiting requests get 503 + Retry-After, renders go on in the workers',
  );
  await api.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
// Started by `npm start` (an IPC channel): a parent that died, even by SIGKILL, closes the channel; stop
// rather than live on as an orphan holding our port and Redis (src/stack/orphan-guard.ts). Under systemd
// there is no channel and this never fires.
process.on('disconnect', () => void shutdown('disconnect'));
