// Owns what `npm start` prints, and the one choice of how (issue 18): each event of every process exactly
// once, as a JSON line on a pipe or a file, as one pino-pretty line on a terminal. Our Node processes log
// JSON lines (observability/logger.ts) and filter them by LOG_LEVEL themselves; a plain line (Redis, nginx,
// a Node process's stderr, the stack's own) becomes an event at the level its sender gives it, dropped below
// LOG_LEVEL. The ready banner is a block of text on a terminal and one JSON event elsewhere.
import { pino } from 'pino';
import { isColorSupported, prettyFactory } from 'pino-pretty';
import type { LineSink } from './managed-process.js';

/** Where the lines go: process.stdout, whose isTTY says whether a person reads it. */
export interface OutputStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** One line of the ready banner: `key` names it in the JSON event, `label` on the terminal. */
export interface BannerEntry {
  key: string;
  label: string;
  url: string;
  note?: string;
}

export interface StackOutput {
  /** A process's line: a JSON log line shown as the event it is; a plain one as an event at `level` (info). */
  readonly sink: LineSink;
  /** The stack serves: where to begin, and how to stop (on a terminal whatever LOG_LEVEL: it is the way in). */
  ready(entries: readonly BannerEntry[], stopHint: string): void;
}

const LEVELS: Readonly<Record<string, number>> = pino.levels.values;

export function createStackOutput(stream: OutputStream, logLevel: string): StackOutput {
  const minimum = LEVELS[logLevel] ?? Number.POSITIVE_INFINITY; // 'silent': nothing
  // One line per event: a request's fields inline, not as a block. Its method, URL and status are in its
  // message already (http/request-log.ts), so they are not repeated after it.
  const pretty = stream.isTTY
    ? prettyFactory({
        colorize: isColorSupported,
        ignore: 'hostname,method,url,status',
        translateTime: 'HH:MM:ss.l',
        singleLine: true,
      })
    : null;
  const show = (event: Record<string, unknown>, json: string) => stream.write(pretty ? pretty(event) : `${json}\n`);
  const emit = (event: Record<string, unknown>) => {
    if ((event.level as number) >= minimum) show(event, JSON.stringify(event));
  };

  const sink: LineSink = (name, line, level = 'info') => {
    const logged = jsonEvent(line);
    // Already filtered by the process that wrote it; shown as it came, so a pipe gets the very same line.
    if (logged) show(logged, line);
    else emit({ level: LEVELS[level], time: Date.now(), name, msg: line });
  };

  return {
    sink,
    ready(entries, stopHint) {
      if (!pretty) {
        emit({
          level: LEVELS.info,
          time: Date.now(),
          name: 'stack',
          msg: 'ready',
          ...Object.fromEntries(entries.map((e) => [e.key, e.url])),
        });
        return;
      }
      const width = Math.max(...entries.map((entry) => entry.label.length));
      const rows = entries.map((entry) => `    ${entry.label.padEnd(width)}  ${entry.url}${entry.note ? `  (${entry.note})` : ''}`);
      stream.write(['', '  mp3-segments is ready:', ...rows, `  ${stopHint}`, '', ''].join('\n'));
    },
  };
}

/** The event of a JSON log line (an object with a numeric level), or null for any other line. */
function jsonEvent(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const event: unknown = JSON.parse(line);
    return typeof event === 'object' && event !== null && typeof (event as { level?: unknown }).level === 'number'
      ? (event as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}
