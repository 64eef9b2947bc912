// `npm start`: brings up the whole stack on this machine, shows where to begin (the demo page first), and on
// Ctrl-C or SIGTERM stops every process it started and says which. How its lines are shown (pretty on a
// terminal, JSON lines elsewhere) is log-output.ts's to decide.
import { type Config, loadConfigOrExit } from '../config.js';
import { type BannerEntry, createStackOutput } from './log-output.js';
import { MissingProgram } from './system-tools.js';
import { StackAlreadyRunning } from './stack-lock.js';
import { type StoppedProcess, startStack } from './stack.js';

const config = loadConfigOrExit();
const output = createStackOutput(process.stdout, config.logLevel);
const say = (line: string) => output.sink('stack', line);

/** Pure: the ready banner's lines, the way in for a newcomer first. */
function readyBanner(url: string, settings: Pick<Config, 'adminToken'>): BannerEntry[] {
  return [
    { key: 'demo', label: 'demo page', url: `${url}/` },
    { key: 'segment', label: 'a segment', url: `${url}/segments/demo/tones/10-20.mp3` },
    { key: 'metrics', label: 'metrics', url: `${url}/metrics` },
    {
      key: 'dashboard',
      label: 'queue dashboard',
      url: `${url}/admin/queues`,
      note: settings.adminToken ? 'log in at /admin/login' : 'set ADMIN_TOKEN to open it',
    },
  ];
}

const listed = (stopped: StoppedProcess[]) => stopped.map(({ name, pid }) => `${name} (pid ${pid})`).join(', ');

say(`starting: media ${config.mediaOrigin?.url ?? config.mediaRoot}, data ${config.dataDir}, ${config.workers} worker(s)`);
const starting = startStack(config, output.sink);
let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping every process`);
  // A signal during start waits for the start to settle, so nothing it launched is left behind.
  const stack = await starting.catch(() => null);
  const stopped = (await stack?.stop()) ?? [];
  say(stopped.length > 0 ? `stopped ${listed(stopped)}` : 'stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

try {
  const stack = await starting;
  output.ready(readyBanner(stack.url, config), 'Ctrl-C stops every process it started.');
} catch (error) {
  const told = error instanceof MissingProgram || error instanceof StackAlreadyRunning;
  process.stderr.write(`${told ? error.message : (error as Error).stack}\n`);
  process.exit(1);
}
