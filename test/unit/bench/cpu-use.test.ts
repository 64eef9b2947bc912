// Where a load's CPU went: the parts' time per answer, the rest of the machine's busy time, the cores' busy
// share, summed over rounds; and the figures reach the distinct-misses target row. One test reads /proc for real.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addIntervals, cpuExtra, cpuPerAnswer, sampleCpu, type CpuSample } from '../../../test/bench/cpu-use.js';
import { checkTargets, type ScenarioResult } from '../../../test/bench/report.js';

const sample = (api: number, workers: number, busy: number, total: number): CpuSample => ({
  parts: { api, workers },
  machineBusyMs: busy,
  machineTotalMs: total,
});

describe('CPU per answer', () => {
  it('divides each part over the answers and calls the rest of the busy time "rest"', () => {
    const cpu = cpuPerAnswer(sample(100, 200, 1_000, 4_000), sample(300, 800, 2_800, 6_000), 100);
    // api 200 ms, workers 600 ms, busy 1,800 ms of 2,000: the rest is 1,000 ms.
    expect(cpu).toEqual({ perAnswerMs: { api: 2, workers: 6, rest: 10 }, machineBusy: 0.9 });
  });

  it('adds rounds up, leaving out the time between them', () => {
    const [before, after] = addIntervals([
      [sample(0, 0, 0, 100), sample(10, 20, 50, 200)],
      [sample(500, 500, 900, 1_000), sample(530, 540, 990, 1_180)],
    ]);
    expect(cpuPerAnswer(before, after, 10)).toEqual({ perAnswerMs: { api: 4, workers: 6, rest: 4 }, machineBusy: 0.5 });
  });

  it("appends the figures to the distinct misses' target row", () => {
    const cpu = cpuExtra({ perAnswerMs: { api: 1.234, workers: 5.678, rest: 2 }, machineBusy: 0.987 });
    const misses: ScenarioResult = {
      id: 'distinct-misses',
      name: '',
      reference: false,
      requests: 1,
      errors: 0,
      latency: [],
      requestsPerSecond: 100,
      roundsPerSecond: [100],
      extra: cpu,
    };
    const cut: ScenarioResult = { ...misses, id: 'cores-cut', requestsPerSecond: 400, roundsPerSecond: [400], extra: undefined };
    const [row] = checkTargets({ date: '', quick: true, machine: '', config: {}, results: [misses, cut] });
    expect(row?.measured).toBe('0.25 × (one run); CPU per answer: api 1.23 ms, workers 5.68 ms, rest 2 ms; cores 98.7 % busy');
  });

  it('reads the CPU time of a process group from /proc', async () => {
    // A child leading its own group spins for 300 ms of CPU, then idles while it is read.
    const child = spawn(process.execPath, ['-e', 'const t = Date.now() + 300; while (Date.now() < t); setTimeout(() => {}, 5000);'], {
      detached: true,
      stdio: 'ignore',
    });
    try {
      const before = await sampleCpu({ child: [child.pid!] });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const after = await sampleCpu({ child: [child.pid!] });
      expect(after.parts.child! - before.parts.child!).toBeGreaterThanOrEqual(150);
      expect(after.machineTotalMs).toBeGreaterThan(before.machineTotalMs);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
