// Owns the bench's latency chart: one line per scenario, latency (log ms) against percentile, drawn as
// HdrHistogram plots do (x = log of 1 / (1 - p)), so the tail from p90 to p99.99 is as wide as the body.
// A self-contained SVG: the README shows it as an image, no script or font needed.

export interface LatencySeries {
  name: string;
  /** [percentile 0..100, ms] */
  points: [number, number][];
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
  '#393b79',
  '#637939',
];
const X_TICKS: [number, string][] = [
  [0, '0%'],
  [90, '90%'],
  [99, '99%'],
  [99.9, '99.9%'],
  [99.99, '99.99%'],
];
const LAST_TICK = 99.99;
const MIN_MS = 0.01;

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** log10(1 / (1 - p)): 0 at p0, 1 at p90, 2 at p99...; p100 is drawn at the last tick. */
function percentileX(p: number): number {
  return Math.log10(1 / (1 - Math.min(p, LAST_TICK) / 100));
}

function msLabel(ms: number): string {
  if (ms >= 1000) return `${+(ms / 1000).toPrecision(3)} s`;
  return `${+ms.toPrecision(3)} ms`;
}

/** 1-2-5 steps from below `low` to above `high`. */
function msTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let decade = 10 ** Math.floor(Math.log10(low)); decade <= high * 10; decade *= 10) {
    for (const step of [1, 2, 5]) {
      const tick = +(decade * step).toPrecision(3);
      if (tick >= low / 2.5 && tick <= high * 2.5) ticks.push(tick);
    }
  }
  return ticks;
}

export function latencyChartSvg(series: LatencySeries[], options: { title?: string; width?: number; height?: number } = {}): string {
  const width = options.width ?? 900;
  const height = options.height ?? 520;
  const title = escapeXml(options.title ?? 'Latency by percentile');
  const drawn = series.filter((one) => one.points.length > 0);
  const open = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`;
  const background = `<rect width="${width}" height="${height}" fill="#fff"/>`;
  const heading = `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`;
  if (drawn.length === 0) {
    return `${open}${background}${heading}<text x="${width / 2}" y="${height / 2}" text-anchor="middle">no data</text></svg>\n`;
  }

  // Plot area on the left; the legend in a column on the right.
  const legendWidth = 300;
  const plot = { left: 70, top: 35, right: width - legendWidth - 20, bottom: height - 50 };
  const values = drawn.flatMap((one) => one.points.map(([, ms]) => Math.max(ms, MIN_MS)));
  const yTicks = msTicks(Math.min(...values), Math.max(...values));
  const [yLow, yHigh] = [Math.log10(yTicks[0]!), Math.log10(yTicks[yTicks.length - 1]!)];
  const maxP = Math.max(...drawn.flatMap((one) => one.points.map(([p]) => p)));
  const xTicks = X_TICKS.filter(([p], i) => i < 2 || p <= Math.max(maxP, 90));
  const xHigh = percentileX(xTicks[xTicks.length - 1]![0]);
  const x = (p: number) => plot.left + (percentileX(p) / xHigh) * (plot.right - plot.left);
  const y = (ms: number) => plot.bottom - ((Math.log10(Math.max(ms, MIN_MS)) - yLow) / (yHigh - yLow || 1)) * (plot.bottom - plot.top);

  const parts: string[] = [open, background, heading];
  for (const [p, label] of xTicks) {
    parts.push(`<line x1="${x(p).toFixed(1)}" y1="${plot.top}" x2="${x(p).toFixed(1)}" y2="${plot.bottom}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(p).toFixed(1)}" y="${plot.bottom + 16}" text-anchor="middle">${label}</text>`);
  }
  for (const tick of yTicks) {
    parts.push(`<line x1="${plot.left}" y1="${y(tick).toFixed(1)}" x2="${plot.right}" y2="${y(tick).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${plot.left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${msLabel(tick)}</text>`);
  }
  parts.push(
    `<rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${plot.bottom - plot.top}" fill="none" stroke="#888"/>`,
  );
  parts.push(`<text x="${(plot.left + plot.right) / 2}" y="${height - 12}" text-anchor="middle">percentile</text>`);
  parts.push(
    `<text x="16" y="${(plot.top + plot.bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(plot.top + plot.bottom) / 2})">latency (log scale)</text>`,
  );
  drawn.forEach((one, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const points = [...one.points].sort((a, b) => a[0] - b[0]).map(([p, ms]) => `${x(p).toFixed(1)},${y(ms).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(' ')}"/>`);
    const rowY = plot.top + 8 + i * 20;
    parts.push(`<line x1="${plot.right + 20}" y1="${rowY}" x2="${plot.right + 44}" y2="${rowY}" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${plot.right + 50}" y="${rowY + 4}">${escapeXml(one.name)}</text>`);
  });
  parts.push('</svg>\n');
  return parts.join('\n');
}
