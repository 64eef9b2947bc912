// `npm start`: brings up the whole stack on this machine, prints the URL, and on Ctrl-C or SIGTERM stops
// every process it started. Children log JSON lines; on a terminal they are shown through pino-pretty.
import type { Writable } from 'node:stream';
import pinoPretty from 'pino-pretty';
import { loadConfigOrExit } from '../config.js';
import { MissingProgram } from './system-tools.js';
import { StackAlreadyRunning } from './stack-lock.js';
import { startStack } from './stack.js';

const config = loadConfigOrExit();
const out: Writable = process.stdout.isTTY
  ? pinoPretty({ colorize: true, ignore: 'hostname', translateTime: 'HH:MM:ss.l' })
  : process.stdout;
if (out !== process.stdout) out.pipe(process.stdout);

/** JSON lines pass as they are; plain lines (Redis, nginx) are wrapped as info lines of that process. */
function sink(name: string, line: string): void {
  if (line.startsWith('{')) {
    out.write(`${line}\n`);
    return;
  }
  out.write(`${JSON.stringify({ level: 30, time: Date.now(), name, msg: line })}\n`);
}

sink('stack', `starting: media ${config.mediaRoot}, data ${config.dataDir}, ${config.workers} worker(s)`);
const starting = startStack(config, sink);
let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  sink('stack', `${signal}: stopping every process`);
  // A signal during start waits for the start to settle, so nothing it launched is left behind.
  const stack = await starting.catch(() => null);
  await stack?.stop();
  sink('stack', 'stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

try {
  const stack = await starting;
  sink('stack', `ready: ${stack.url}/segments/demo/tones/10-20.mp3 (sources: ${stack.url}/sources/demo/tones)`);
  process.stdout.write(`\nServing on ${stack.url}  (try ${stack.url}/segments/demo/tones/10-20.mp3; Ctrl-C stops)\n\n`);
} catch (error) {
  const told = error instanceof MissingProgram || error instanceof StackAlreadyRunning;
  process.stderr.write(`${told ? error.message : (error as Error).stack}\n`);
  process.exit(1);
}
