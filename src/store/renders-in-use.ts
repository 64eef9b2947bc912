// Owns keeping the renders this process is streaming safe from eviction: while any is held, one timer marks
// each held render as used every `refreshMs` (well inside STORE_EVICT_GRACE_MS), so a long stream is never
// removed under its reader. One timer for all streams, none while nothing streams.
import type { RenderStore } from './render-store.js';

export interface RendersInUse {
  /** Marks `key` as in use until the returned release is called (calling it twice is harmless). */
  hold(key: string): () => void;
  readonly held: number;
}

export function createRendersInUse(store: Pick<RenderStore, 'touch'>, options: { refreshMs: number }): RendersInUse {
  const holds = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;

  function refresh(): void {
    for (const key of holds.keys()) void store.touch(key);
  }

  return {
    get held() {
      return holds.size;
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
}
