// How long the stack waits before restarting a dead process: short after a process that ran a while,
// doubling while it keeps dying at once (a crash loop must not spin), capped at 30 s.
import { describe, expect, it } from 'vitest';
import { nextRestartDelay } from '../../../src/stack/supervised-pool.js';

describe('restart delay', () => {
  it('is 500 ms after a first death, or after a process that lived 10 s or more', () => {
    expect(nextRestartDelay(null, 100)).toBe(500);
    expect(nextRestartDelay(8_000, 10_000)).toBe(500);
  });

  it('doubles while the process keeps dying within 10 s of its start, up to 30 s', () => {
    const delays: number[] = [];
    let last: number | null = null;
    for (let i = 0; i < 9; i++) {
      last = nextRestartDelay(last, 50);
      delays.push(last);
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });
});
