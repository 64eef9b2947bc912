// Owns where a load's CPU goes: the CPU time of each part of the stack (each part a set of process groups:
// the API, the workers, Redis, nginx's master and workers) and of the whole machine, read from /proc before
// and after, so a throughput row can name its limiting resource instead of guessing at it.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** CPU milliseconds so far: per part, and the machine's busy and total time over all cores. */
export interface CpuSample {
  parts: Record<string, number>;
  machineBusyMs: number;
  machineTotalMs: number;
}

/** Where the CPU of `requests` answers went: milliseconds per answer, and how busy the machine was. */
export interface CpuPerAnswer {
  /** CPU ms per answer of each part, and `rest` for everything else busy on the machine (the load generator, the bench, other tenants). */
  perAnswerMs: Record<string, number>;
  /** Share of all cores' time that was busy, 0-1. */
  machineBusy: number;
}

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** `parts` maps a name to the process-group ids whose members' CPU it adds up (children started detached lead their group). */
export async function sampleCpu(parts: Record<string, readonly number[]>): Promise<CpuSample> {
  const groupOf = new Map<number, string>();
  for (const [name, groups] of Object.entries(parts)) for (const group of groups) groupOf.set(group, name);
  const totals: Record<string, number> = Object.fromEntries(Object.keys(parts).map((name) => [name, 0]));
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    // After ") ": state(0) ppid(1) pgrp(2) ... utime(11) stime(12), per proc(5).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const part = groupOf.get(Number(fields[2]));
    if (part !== undefined) totals[part]! += ticksToMs(Number(fields[11]) + Number(fields[12]));
  }
  const machine = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the cores' free time.
  const total = machine.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const free = machine[3]! + machine[4]!;
  return { parts: totals, machineBusyMs: ticksToMs(total - free), machineTotalMs: ticksToMs(total) };
}

/** The CPU between two samples, divided over the answers given between them. */
export function cpuPerAnswer(before: CpuSample, after: CpuSample, answers: number): CpuPerAnswer {
  const perAnswerMs: Record<string, number> = {};
  let attributed = 0;
  for (const name of Object.keys(after.parts)) {
    const spent = after.parts[name]! - (before.parts[name] ?? 0);
    attributed += spent;
    perAnswerMs[name] = spent / answers;
  }
  const busy = after.machineBusyMs - before.machineBusyMs;
  perAnswerMs.rest = Math.max(0, busy - attributed) / answers;
  return { perAnswerMs, machineBusy: busy / (after.machineTotalMs - before.machineTotalMs) };
}

/** Adds the differences of several before/after pairs (one per round) into one before/after pair. */
export function addIntervals(intervals: Array<[CpuSample, CpuSample]>): [CpuSample, CpuSample] {
  const zero = (): CpuSample => ({ parts: {}, machineBusyMs: 0, machineTotalMs: 0 });
  const after = zero();
  for (const [start, end] of intervals) {
    for (const name of Object.keys(end.parts)) after.parts[name] = (after.parts[name] ?? 0) + end.parts[name]! - (start.parts[name] ?? 0);
    after.machineBusyMs += end.machineBusyMs - start.machineBusyMs;
    after.machineTotalMs += end.machineTotalMs - start.machineTotalMs;
  }
  return [zero(), after];
}

function ticksToMs(ticks: number): number {
  return (ticks * 1000) / TICKS_PER_SECOND;
}

const EXTRA_PREFIX = 'cpuMsPerAnswer.';

/** The figures as a scenario's `extra` fields (rounded), for the JSON results and the report. */
export function cpuExtra(cpu: CpuPerAnswer): Record<string, number> {
  const fields: Record<string, number> = { machineBusyPercent: Math.round(cpu.machineBusy * 1000) / 10 };
  for (const [name, ms] of Object.entries(cpu.perAnswerMs)) fields[EXTRA_PREFIX + name] = Math.round(ms * 100) / 100;
  return fields;
}

/** "CPU per answer: api 1.2 ms, workers 3.4 ms, ...; cores 97 % busy", read back from `cpuExtra`'s fields. */
export function describeCpuExtra(extra: Record<string, number | string> | undefined): string | null {
  const parts = Object.entries(extra ?? {}).filter(([key]) => key.startsWith(EXTRA_PREFIX));
  if (parts.length === 0) return null;
  const list = parts.map(([key, ms]) => `${key.slice(EXTRA_PREFIX.length)} ${ms} ms`).join(', ');
  return `CPU per answer: ${list}; cores ${extra?.machineBusyPercent} % busy`;
}
