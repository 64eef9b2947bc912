// The bench's target rows: a ratio read round by round (median and range) when the two scenarios ran in the
// same interleaved rounds, one ratio of the totals otherwise, and rows left out when their scenario did not run.
import { describe, expect, it } from 'vitest';
import { checkTargets, rateRatio, type BenchReport, type ScenarioResult } from '../../../test/bench/report.js';

const scenario = (id: string, roundsPerSecond: number[], extra?: ScenarioResult['extra']): ScenarioResult => ({
  id,
  name: id,
  reference: false,
  requests: 10_000,
  errors: 0,
  requestsPerSecond: roundsPerSecond.reduce((sum, rate) => sum + rate, 0) / roundsPerSecond.length,
  latency: [[50, 1]],
  roundsPerSecond,
  extra,
});

const report = (results: ScenarioResult[]): BenchReport => ({
  date: '2026-12-02T00:00:00Z',
  quick: true,
  machine: 'test',
  config: {},
  results,
});

describe('bench target rows', () => {
  it('reads a ratio per round: the median of the rounds and their range, not the ratio of the totals', () => {
    // The mean rates give 2,000 / 1,417 = 1.41; round by round: 0.5, 1 and 2.
    const ratio = rateRatio(scenario('hit', [500, 1_000, 4_500]), scenario('static', [1_000, 1_000, 2_250]));
    expect(ratio).toEqual({ median: 1, min: 0.5, max: 2, rounds: 3 });
  });

  it('falls back to one ratio of the totals when the two did not share rounds', () => {
    const ratio = rateRatio(scenario('mixed-cold', [600]), scenario('naive', [20, 40, 30]));
    expect(ratio).toEqual({ median: 20, min: 20, max: 20, rounds: 1 });
  });

  it('prints each rate target with its spread and says met or missed against the median', () => {
    const checks = checkTargets(report([scenario('nginx-static', [1_000, 1_000, 1_000]), scenario('nginx-hit', [900, 960, 990])]));
    expect(checks).toEqual([
      {
        scenario: 'nginx HIT, 30 s segment, 64 connections (issue 15)',
        target: '≥ 0.95 × nginx static req/s',
        measured: '0.96 × (0.90-0.99 over 3 rounds)',
        met: true,
      },
    ]);
  });

  it('states the memory per waiting request as RSS growth over the requests held', () => {
    const waiting = { ...scenario('waiting', [1]), requests: 10_000, extra: { baselineRssMb: 100, peakRssMb: 200 } };
    const [check] = checkTargets(report([waiting]));
    expect(check).toMatchObject({ measured: '10.2 KB (100.0 MB over 100.0 MB), 0 errors', met: false });
  });
});
