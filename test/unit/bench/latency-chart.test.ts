// The bench's chart and percentile summaries: an SVG that is well formed and draws what it is given, and
// nearest-rank percentiles of known samples.
import { describe, expect, it } from 'vitest';
import { latencyChartSvg } from '../../../test/bench/latency-chart.js';
import { median, percentileAt, percentilesOf } from '../../../test/bench/samples.js';

const polylines = (svg: string) =>
  [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((match) =>
    match[1]!.split(' ').map((pair) => pair.split(',').map(Number) as [number, number]),
  );

describe('latency chart', () => {
  const svg = latencyChartSvg(
    [
      {
        name: 'fast <nginx> & "static"',
        points: [
          [0, 1],
          [50, 2],
          [99, 5],
          [100, 9],
        ],
      },
      {
        name: 'slow',
        points: [
          [0, 100],
          [50, 200],
          [99, 900],
          [100, 1500],
        ],
      },
      { name: 'empty', points: [] },
    ],
    { title: 'Latency & more' },
  );

  it('is one SVG document with a line per series that has points, and escaped text', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(polylines(svg)).toHaveLength(2);
    expect(svg).toContain('fast &lt;nginx&gt; &amp; &quot;static&quot;');
    expect(svg).toContain('Latency &amp; more');
    expect(svg).not.toContain('<nginx>');
  });

  it('puts later percentiles to the right and longer latencies higher up', () => {
    const [fast, slow] = polylines(svg);
    for (const line of [fast!, slow!]) {
      for (let i = 1; i < line.length; i++) {
        expect(line[i]![0]).toBeGreaterThan(line[i - 1]![0]);
        expect(line[i]![1]).toBeLessThan(line[i - 1]![1]);
      }
    }
    // The same percentile is drawn higher for the slower series.
    expect(slow![1]![1]).toBeLessThan(fast![1]![1]);
  });

  it('says "no data" when there is nothing to draw', () => {
    const empty = latencyChartSvg([{ name: 'x', points: [] }]);
    expect(empty).toContain('no data');
    expect(polylines(empty)).toHaveLength(0);
  });
});

describe('percentiles of samples', () => {
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, shuffled order
  it('are nearest-rank, from the minimum to the maximum', () => {
    const points = percentilesOf(samples);
    expect(points[0]).toEqual([0, 1]);
    expect(points[points.length - 1]).toEqual([100, 100]);
    expect(percentileAt(points, 50)).toBe(50);
    expect(percentileAt(points, 99)).toBe(99);
    expect(median([5, 1, 3])).toBe(3);
  });
  it('of nothing are empty, and read as NaN', () => {
    expect(percentilesOf([])).toEqual([]);
    expect(percentileAt([], 50)).toBeNaN();
  });
});
