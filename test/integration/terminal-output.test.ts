// The first minute of `npm start` as a person sees it (issue 18): run on a terminal (a pseudo-terminal from
// util-linux's `script`, as a shell gives it), every event is shown once, pretty, never as raw JSON; one
// request prints one line; the banner leads with the demo page; Ctrl-C (typed into the terminal) stops
// everything and says what it stopped. Run on a pipe, the same start prints JSON lines only, each event once.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { freePort } from '../../src/stack/free-port.js';
import { processCommandLine } from '../../src/stack/leftover-process.js';
import { descendantsOf, eventually } from '../helpers/test-stack.js';

const STACK_ENTRY = path.join(PROJECT_ROOT, 'dist', 'src', 'stack', 'main.js');
/** Not the banner's example segment: every line naming it is this request's own. */
const SEGMENT = '/segments/demo/tones/11-19.mp3';
/** A bound on each run's stop, so a hang fails the test instead of holding the suite; not a speed target. */
const STOP_BOUND_MS = 30_000;

/** Every process group a run started (script, the stack, its children), killed in afterAll if still there. */
const groups = new Set<number>();
const roots: string[] = [];

afterAll(async () => {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // Already gone: the run stopped everything itself.
    }
  }
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

interface Run {
  child: ChildProcess;
  url: string;
  /** Everything printed so far (stdout; on a terminal, stderr too, as the terminal shows both). */
  output: () => string;
  stderr: () => string;
  exited: Promise<number | string>;
}

async function startRun(on: 'terminal' | 'pipe'): Promise<Run> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-terminal-'));
  roots.push(root);
  await chmod(root, 0o755); // nginx runs as 'nobody' and must reach DATA_DIR
  await cp(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo'), path.join(root, 'media', 'demo'), { recursive: true });
  const port = await freePort();
  const env = {
    ...process.env,
    PORT: String(port),
    API_PORT: String(await freePort()),
    DATA_DIR: path.join(root, 'data'),
    MEDIA_ROOT: path.join(root, 'media'),
    WORKERS: '1',
    LOG_LEVEL: 'info', // npm start's default: what a newcomer sees
  };
  // `exec`: the stack's process replaces script's shell, so Ctrl-C on the terminal reaches it as it would
  // from a person's shell. detached: each run is a process group of its own, killed by pid if it hangs.
  const child =
    on === 'terminal'
      ? spawn('script', ['-qfc', `exec '${process.execPath}' '${STACK_ENTRY}'`, '/dev/null'], {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
        })
      : spawn(process.execPath, [STACK_ENTRY], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (child.pid) groups.add(child.pid);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, url: `http://127.0.0.1:${port}`, output: () => out, stderr: () => err, exited };
}

/** Waits for `what` in the output, naming what was printed when it does not come. */
async function printed(run: Run, test: (output: string) => boolean, what: string): Promise<void> {
  await eventually(async () => (test(run.output()) ? true : undefined), what, 45_000).catch((error: Error) =>
    Promise.reject(new Error(`${error.message}; printed so far:\n${run.output()}\n${run.stderr()}`)),
  );
}

/** Every process below the run (the stack's children and their process groups), for the check that Ctrl-C ends them. */
async function everyProcessOf(run: Run): Promise<number[]> {
  const pids = await descendantsOf(run.child.pid!);
  // Their groups too: a SIGKILL in afterAll must reach what a hung stop left.
  for (const pid of pids) groups.add(pid);
  return pids;
}

const alive = async (pids: number[]) =>
  (await Promise.all(pids.map(async (pid) => ((await processCommandLine(pid)) === null ? [] : [pid])))).flat();

/** Resolves with the exit, or rejects past the bound (a stop that hangs). */
function ended(run: Run): Promise<number | string> {
  return Promise.race([
    run.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`did not stop; printed:\n${run.output()}\n${run.stderr()}`)), STOP_BOUND_MS).unref(),
    ),
  ]);
}

// ESC [ ... letter: colours and other terminal controls; the terminal also turns "\n" into "\r\n".
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what it removes.
const plain = (text: string) => text.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
/** A pretty line without its leading "[HH:MM:ss.mmm] " time: the same event printed twice reads the same. */
const withoutTime = (line: string) => line.replace(/^\[\d\d:\d\d:\d\d\.\d{3}\] /, '');
const duplicatesIn = (lines: string[]) => lines.filter((line, index) => lines.indexOf(line) !== index);

describe('npm start on a terminal', () => {
  it('shows each event once, pretty and without raw JSON; one line for a request; Ctrl-C says what it stopped', async () => {
    const run = await startRun('terminal');
    await printed(run, (text) => plain(text).includes('Ctrl-C'), 'the ready banner');
    const processes = await everyProcessOf(run);

    const response = await fetch(run.url + SEGMENT);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await printed(run, (text) => plain(text).includes(SEGMENT), "the request's line");
    run.child.stdin?.write('\u0003'); // Ctrl-C: the terminal sends SIGINT to its foreground process
    expect(await ended(run)).toBe(0);
    expect(await alive(processes)).toEqual([]);

    const lines = plain(run.output())
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '' && line !== '^C');
    // No raw JSON: not as a line of its own, nor glued to another.
    expect(lines.filter((line) => line.includes('{"level"') || line.startsWith('{'))).toEqual([]);
    expect(duplicatesIn(lines.map(withoutTime))).toEqual([]);
    for (const event of ['starting: media', 'worker ready', 'Server listening at', 'stopped'])
      expect(
        lines.filter((line) => line.includes(event)),
        event,
      ).toHaveLength(1);

    // The banner: the demo page first, then a segment, the metrics and dashboard paths, how to stop.
    const bannerStart = lines.findIndex((line) => line.includes(`${run.url}/ `) || line.endsWith(`${run.url}/`));
    const bannerEnd = lines.findIndex((line) => line.includes('Ctrl-C'));
    expect(bannerStart, 'the demo page URL').toBeGreaterThanOrEqual(0);
    const banner = lines.slice(bannerStart, bannerEnd + 1).join('\n');
    expect(banner).toContain(`${run.url}/segments/`);
    expect(banner.indexOf(`${run.url}/segments/`)).toBeGreaterThan(banner.indexOf(`${run.url}/`));
    expect(banner).toContain('/metrics');
    expect(banner).toContain('/admin/queues');

    // Between the banner and the stop: the request's one line, and nothing else.
    const stopping = lines.findIndex((line) => line.includes('stopping'));
    const between = lines.slice(bannerEnd + 1, stopping);
    expect(between).toHaveLength(1);
    expect(between[0]).toContain(`GET ${SEGMENT} 200`);
    expect(lines.filter((line) => line.includes(SEGMENT))).toHaveLength(1);

    // Ctrl-C names what it stopped.
    const stopped = lines.find((line) => line.includes('stopped')) ?? '';
    for (const name of ['nginx', 'api', 'worker', 'redis']) expect(stopped, name).toContain(name);
  });
});

describe('npm start on a pipe', () => {
  it('prints JSON lines only, each event once, one line for a request', async () => {
    const run = await startRun('pipe');
    const events = () =>
      run
        .output()
        .split('\n')
        .filter((line) => line !== '');
    await printed(run, (text) => text.includes('"ready"') && text.endsWith('\n'), 'the ready event');
    const processes = await everyProcessOf(run);

    const response = await fetch(run.url + SEGMENT);
    expect(response.status).toBe(200);
    await response.arrayBuffer();
    await printed(run, (text) => text.includes(SEGMENT), "the request's line");
    process.kill(run.child.pid!, 'SIGINT'); // what Ctrl-C sends
    expect(await ended(run)).toBe(0);
    expect(await alive(processes)).toEqual([]);

    const parsed = events().map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        return { notJson: line };
      }
    });
    expect(parsed.filter((entry) => 'notJson' in entry)).toEqual([]);
    for (const entry of parsed) {
      expect(typeof entry.level, JSON.stringify(entry)).toBe('number');
      expect(typeof entry.msg, JSON.stringify(entry)).toBe('string');
    }
    expect(duplicatesIn(events())).toEqual([]);
    const messages = parsed.map((entry) => String(entry.msg));
    for (const event of ['starting: media', 'worker ready', 'Server listening at'])
      expect(
        messages.filter((msg) => msg.includes(event)),
        event,
      ).toHaveLength(1);
    const ready = parsed.filter((entry) => entry.msg === 'ready');
    expect(ready).toHaveLength(1);
    expect(ready[0]?.demo).toBe(`${run.url}/`);
    expect(parsed.filter((entry) => JSON.stringify(entry).includes(SEGMENT))).toHaveLength(1);
    expect(messages.filter((msg) => msg.startsWith('stopped'))).toHaveLength(1);
    expect(run.stderr()).toBe('');
  });
});
