// Owns keeping the renders this process is streaming safe from eviction: while any is held, one timer marks
// each held render as used every `refreshMs` (well inside STORE_EVICT_GRACE_MS), so a long stream is never
// removed under its reader. One timer for all streams, none while nothing streams.
import type { RenderStore } from './render-store.js';

/** An answer being sent, as Node's http.ServerResponse is: it emits 'close' once, when sent or abandoned. */
export interface ClosingAnswer {
  readonly closed: boolean;
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
}

export interface RendersInUse {
  /** Marks `key` as in use until the returned release is called (calling it twice is harmless). */
  hold(key: string): () => void;
  /** Marks `key` as in use until `answer` closes; an answer closed already holds nothing. */
  holdUntilClosed(key: string, answer: ClosingAnswer): void;
  readonly held: number;
}

export function createRendersInUse(store: Pick<RenderStore, 'touch'>, options: { refreshMs: number }): RendersInUse {
  const holds = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;

  function refresh(): void {
    for (const key of holds.keys()) void store.touch(key);
  }

  const inUse: RendersInUse = {
    get held() {
      return holds.size;
    },
    holdUntilClosed(key, answer) {
      // A client gone while its render was opened closed the answer already: 'close' will not come again,
      // and a hold waiting for it would keep the render from eviction for the process's life (issue 14).
      if (answer.closed || answer.destroyed) return;
      answer.once('close', inUse.hold(key));
    },
    hold(key) {
      holds.set(key, (holds.get(key) ?? 0) + 1);
      timer ??= setInterval(refresh, options.refreshMs).unref();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const count = (holds.get(key) ?? 1) - 1;
        if (count > 0) holds.set(key, count);
        else holds.delete(key);
        if (holds.size === 0 && timer) {
          clearInterval(timer);
          timer = null;
        }
      };
    },
  };
  return inUse;
}
