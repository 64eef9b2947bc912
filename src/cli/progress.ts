// Owns how a long CLI run shows its progress on stderr: on a terminal, one line redrawn in place (a bar,
// done/failed, rate, ETA); otherwise (a log, a pipe) a plain line every few seconds, so logs stay readable.
export interface ProgressState {
  total: number;
  done: number;
  failed: number;
}

export interface Progress {
  update(state: ProgressState): void;
  /** A line of its own (a failure), printed above the progress line. */
  log(line: string): void;
  /** The last state, as a line of its own. */
  finish(state: ProgressState): void;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;
const PLAIN_EVERY_MS = 5_000;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
}

/** Pure: "[#####-----] 12/40  done 11  failed 1  3.2/s  ETA 9 s"; the bar only for a terminal. */
export function progressLine(state: ProgressState, elapsedMs: number, withBar: boolean): string {
  const finished = state.done + state.failed;
  const rate = elapsedMs > 0 ? finished / (elapsedMs / 1000) : 0;
  const eta = finished === state.total ? 0 : rate > 0 ? (state.total - finished) / rate : Infinity;
  const filled = state.total > 0 ? Math.round((finished / state.total) * BAR_WIDTH) : BAR_WIDTH;
  const bar = withBar ? `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ` : '';
  return `${bar}${finished}/${state.total}  done ${state.done}  failed ${state.failed}  ${rate.toFixed(1)}/s  ETA ${duration(eta)}`;
}

export function createProgress(stream: { write(text: string): unknown; isTTY?: boolean }, now: () => number = Date.now): Progress {
  const started = now();
  const tty = stream.isTTY === true;
  let shownAt = -Infinity;
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write('\r\x1b[K');
    drawn = false;
  };
  return {
    update(state) {
      const at = now();
      if (at - shownAt < (tty ? REDRAW_MS : PLAIN_EVERY_MS)) return;
      shownAt = at;
      if (tty) {
        clear();
        stream.write(progressLine(state, at - started, true));
        drawn = true;
      } else {
        stream.write(`${progressLine(state, at - started, false)}\n`);
      }
    },
    log(line) {
      clear();
      stream.write(`${line}\n`);
      shownAt = -Infinity;
    },
    finish(state) {
      clear();
      stream.write(`${progressLine(state, now() - started, tty)}\n`);
    },
  };
}
