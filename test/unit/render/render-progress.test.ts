import { describe, expect, it } from 'vitest';
import { throttledPercent } from '../../../src/render/render-progress.js';

function reporter(totalMs: number, minIntervalMs = 250) {
  let clock = 0;
  const reported: number[] = [];
  const onProgress = throttledPercent({ totalMs, minIntervalMs, report: (percent) => reported.push(percent), now: () => clock });
  // A render past its first interval, where reports begin.
  clock += minIntervalMs;
  return { reported, onProgress, advance: (ms: number) => (clock += ms) };
}

describe('throttledPercent (job progress from ffmpeg progress)', () => {
  it('reports whole percents of the segment length', () => {
    const r = reporter(300_000);
    r.onProgress(30);
    r.advance(500);
    r.onProgress(151.5);
    expect(r.reported).toEqual([10, 50]);
  });

  it('reports only when the percent rises', () => {
    const r = reporter(100_000);
    r.onProgress(20);
    r.advance(500);
    r.onProgress(20.5);
    r.advance(500);
    r.onProgress(10);
    expect(r.reported).toEqual([20]);
  });

  it('reports at most once per interval', () => {
    const r = reporter(100_000, 250);
    r.onProgress(10);
    r.advance(100);
    r.onProgress(20);
    r.advance(200);
    r.onProgress(30);
    expect(r.reported).toEqual([10, 30]);
  });

  it('reports nothing within the first interval: a short render writes no progress', () => {
    let clock = 0;
    const reported: number[] = [];
    const onProgress = throttledPercent({
      totalMs: 30_000,
      minIntervalMs: 250,
      report: (percent) => reported.push(percent),
      now: () => clock,
    });
    onProgress(10);
    clock = 249;
    onProgress(30);
    expect(reported).toEqual([]);
    clock = 250;
    onProgress(30);
    expect(reported).toEqual([99]);
  });

  it('stays below 100 while ffmpeg runs (done is the 100 %), even past the asked length', () => {
    const r = reporter(10_000);
    r.onProgress(10.026);
    expect(r.reported).toEqual([99]);
  });
});
