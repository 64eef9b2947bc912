// Chaos (issue 14): steady mixed load through nginx (hits, Range slices of hits, fresh misses in copy and
// exact modes) while, one at a time, Redis is stopped and continued, Redis is killed, a worker is killed, the
// API is killed, nginx is killed and a store file is truncated. Every body is checked; the figures are
// printed as the table in docs/reliability.md. Must be 0: wrong bytes, 5xx other than 503 with Retry-After,
// hung requests, processes left after the stop; every fault must recover within RECOVERY_WITHIN_MS.
import { truncate } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeDir } from '../../src/data-layout.js';
import { createRenderStore } from '../../src/store/render-store.js';
import { createChaosLoad, type AnswerKind, type ChaosLoad, type LoadTarget, type PhaseCounts } from '../helpers/chaos-load.js';
import {
  descendantsOf,
  eventually,
  getBytes,
  listeningOn,
  liveProcesses,
  processesInGroup,
  startTestStack,
  type TestStack,
} from '../helpers/test-stack.js';

const WAIT_TIMEOUT_MS = 2_000;
/** The bound is WAIT_TIMEOUT_MS + 1 s; one more second for two shared cores. Later is a hang. */
const ANSWER_WITHIN_MS = WAIT_TIMEOUT_MS + 2_000;
/** Twice ANSWER_WITHIN_MS: a miss that waits on the stalled Redis until SIGCONT shows as a hang, not a slow answer. */
const REDIS_STALL_MS = 8_000;
const RECOVERY_WITHIN_MS = 20_000;
/** Load before each fault, so each fault hits a service under steady load. */
const STEADY_MS = 1_500;

const HIT_PATHS = ['/segments/demo/tones/30-40.mp3', '/segments/demo/chirp/4-6.mp3', '/segments/demo/talk/10-13.5.mp3?mode=exact'];
/** Rendered through the API only (never cached by nginx), to be truncated in the store. */
const STORED_PATH = '/segments/demo/tones/50-53.mp3';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Fault {
  name: string;
  /** Does the fault; resolves with the moment it ended (SIGCONT, the kill, the truncation). */
  inject(): Promise<number>;
  /** A request that needs the faulted part. */
  probe(): LoadTarget;
}

interface FaultResult {
  name: string;
  /** From the fault's end to the first right answer of its probe, or why there was none. */
  recovery: number | 'served wrong bytes' | 'no right answer' | `not injected: ${string}`;
}

let t: TestStack | undefined;
let load: ChaosLoad;
const hits = new Map<string, Buffer>();
let storedTarget: LoadTarget;
/** STORED_PATH's render key (its ETag). */
let storedKey: string;
const results: FaultResult[] = [];
/** Every process of the stack's tree seen during the run. */
const seenPids = new Set<number>();
let leftBehind: number[] = [];
let stalledRedis: number | null = null;

const collectPids = async () => {
  for (const pid of await descendantsOf(process.pid)) seenPids.add(pid);
};

async function waitGone(pgid: number, what: string): Promise<void> {
  await eventually(async () => ((await processesInGroup(pgid)).length === 0 ? true : undefined), what);
}

/** The one process serving Redis's port now (started by the stack, its supervisor or this test). */
async function redisPid(stack: TestStack): Promise<number> {
  const [redis] = await listeningOn(Number(new URL(stack.stack.redisUrl).port));
  if (!redis) throw new Error('nothing listens on the Redis port');
  return redis.pid;
}

function faults(s: TestStack): Fault[] {
  const freshMiss = () => load.freshMiss();
  const anyHit = () => ({ path: HIT_PATHS[0]!, reference: hits.get(HIT_PATHS[0]!) });
  return [
    {
      name: `Redis stopped ${REDIS_STALL_MS / 1000} s (SIGSTOP, SIGCONT)`,
      async inject() {
        stalledRedis = await redisPid(s);
        process.kill(stalledRedis, 'SIGSTOP');
        await sleep(REDIS_STALL_MS); // the fault's length, not a wait for something
        process.kill(stalledRedis, 'SIGCONT');
        stalledRedis = null;
        return performance.now();
      },
      probe: freshMiss,
    },
    {
      name: 'Redis killed (SIGKILL)',
      async inject() {
        const pid = await redisPid(s);
        process.kill(pid, 'SIGKILL');
        const killedAt = performance.now();
        // The stack's supervisor starts it again on its port (stack/supervised-pool.ts).
        await waitGone(pid, 'the killed Redis to be gone');
        return killedAt;
      },
      probe: freshMiss,
    },
    {
      name: 'a worker killed (SIGKILL)',
      async inject() {
        // The worker rendering (its group holds an ffmpeg) if there is one at this moment, else the first.
        const workers = s.stack.workers.processes.map((p) => p.pid);
        const rendering = await Promise.all(workers.map(async (pid) => (await processesInGroup(pid)).length > 1));
        process.kill(workers[Math.max(0, rendering.indexOf(true))]!, 'SIGKILL');
        return performance.now();
      },
      probe: freshMiss,
    },
    {
      name: 'the API killed (SIGKILL)',
      async inject() {
        process.kill(s.stack.api.processes[0]!.pid, 'SIGKILL');
        return performance.now();
      },
      probe: freshMiss,
    },
    {
      name: 'nginx killed (SIGKILL, master and workers)',
      async inject() {
        const [front] = await listeningOn(s.config.port);
        if (!front) throw new Error('nothing listens on the front port');
        process.kill(-front.pgrp, 'SIGKILL');
        const killedAt = performance.now();
        // The stack's supervisor starts it again.
        await waitGone(front.pgrp, 'the killed nginx to be gone');
        return killedAt;
      },
      probe: anyHit,
    },
    {
      name: 'a store file truncated to half',
      async inject() {
        // The API keeps no memory copy (HOT_CACHE_MAX_BYTES 0): its next request reads this file.
        const file = createRenderStore({ dir: storeDir(s.config.dataDir) }).pathOf(storedKey);
        await truncate(file, Math.floor(storedTarget.reference!.length / 2));
        return performance.now();
      },
      probe: () => storedTarget,
    },
  ];
}

/** Polls the probe until a 200/206 arrives: recovered if its bytes are right (a wrong body is no recovery). */
async function recovery(fault: Fault, endedAt: number): Promise<FaultResult['recovery']> {
  while (performance.now() - endedAt < RECOVERY_WITHIN_MS) {
    const answer = await load.ask(fault.probe());
    if (answer.kind === 'right') return answer.endedAt - endedAt;
    if (answer.kind === 'wrong') return 'served wrong bytes';
    await sleep(100); // polling for the recovery
  }
  return 'no right answer';
}

/** The bytes of a URL, asked twice: the second answer must be an nginx HIT with the same bytes. */
async function warm(base: string, path: string): Promise<Buffer> {
  const first = await getBytes(base + path);
  const second = await getBytes(base + path);
  if (first.response.status !== 200 || !second.body.equals(first.body))
    throw new Error(`warming ${path}: ${first.response.status}, then ${second.response.status} with other bytes`);
  return first.body;
}

const formatRecovery = (recovery: FaultResult['recovery']) =>
  typeof recovery === 'number'
    ? `${(recovery / 1000).toFixed(1)} s`
    : recovery === 'no right answer'
      ? `none within ${RECOVERY_WITHIN_MS / 1000} s`
      : recovery;

/** The figures of every fault summed (examples stay per fault). */
function total(): PhaseCounts {
  const sum: PhaseCounts = { requests: 0, kinds: {} as Record<AnswerKind, number>, examples: {}, longestMs: 0 };
  for (const counts of load.phases.values()) {
    sum.requests += counts.requests;
    sum.longestMs = Math.max(sum.longestMs, counts.longestMs);
    for (const [kind, n] of Object.entries(counts.kinds) as [AnswerKind, number][]) {
      sum.kinds[kind] = (sum.kinds[kind] ?? 0) + n;
    }
  }
  return sum;
}

function report(): string {
  const row = (name: string, c: PhaseCounts, recovery: string) =>
    `| ${name} | ${c.requests} | ${c.kinds.right} | ${c.kinds['retry-later']} | ${c.kinds.wrong} | ${c.kinds['bad-5xx']} | ${c.kinds['front-5xx']} | ${c.kinds.hung} | ${c.kinds['no-connection']} | ${(c.longestMs / 1000).toFixed(1)} s | ${recovery} |`;
  return [
    `chaos (WAIT_TIMEOUT_MS ${WAIT_TIMEOUT_MS}, hung = no answer within ${ANSWER_WITHIN_MS / 1000} s, every process restarted by the stack's supervisor):`,
    '| fault | requests | right 200/206 | 503 + Retry-After | wrong bytes | other 5xx (API) | nginx 5xx page | hung | no connection | longest answer | recovery |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => row(r.name, load.phases.get(r.name)!, formatRecovery(r.recovery))),
    row('**total**', total(), `processes left after stop: ${leftBehind.length}`),
  ].join('\n');
}

beforeAll(async () => {
  t = await startTestStack({
    WORKERS: '2',
    WAIT_TIMEOUT_MS: String(WAIT_TIMEOUT_MS),
    RENDER_TIMEOUT_MS: '10000',
    // A killed worker's job is taken up again after 2 s, not 5.
    JOB_LOCK_MS: '2000',
    // Every store hit reads its file: a memory copy would hide the truncated one.
    HOT_CACHE_MAX_BYTES: '0',
  });
  const s = t;
  load = createChaosLoad({ baseUrl: s.url, answerWithinMs: ANSWER_WITHIN_MS });
  for (const path of HIT_PATHS) hits.set(path, await warm(s.url, path));
  const stored = await getBytes(s.apiUrl + STORED_PATH);
  storedTarget = { path: STORED_PATH, reference: stored.body };
  storedKey = stored.response.headers.get('etag')!.replaceAll('"', '');
  const targets: LoadTarget[] = HIT_PATHS.flatMap((path) => [
    { path, reference: hits.get(path) },
    { path, reference: hits.get(path), range: { header: 'bytes=100-999', from: 100, to: 1000 } },
    { path, reference: hits.get(path), range: { header: 'bytes=-500', from: hits.get(path)!.length - 500 } },
  ]);
  await collectPids();
  const running = load.run({ hits: targets, hitLoops: 3, missLoops: 3 });
  try {
    for (const fault of faults(s)) {
      load.phase(fault.name);
      await sleep(STEADY_MS); // load time before the fault, not a wait for something
      await collectPids();
      // A fault that cannot be made (what it needs is already gone) is a result too, not the end of the run.
      const endedAt = await fault.inject().catch((error: Error) => error);
      const outcome = endedAt instanceof Error ? (`not injected: ${endedAt.message}` as const) : await recovery(fault, endedAt);
      results.push({ name: fault.name, recovery: outcome });
    }
  } finally {
    if (stalledRedis !== null) process.kill(stalledRedis, 'SIGCONT');
    await running.stop();
  }
  await collectPids();
  t = undefined;
  await s.stop();
  const alive = new Set((await liveProcesses()).map((p) => p.pid));
  leftBehind = [...seenPids].filter((pid) => alive.has(pid));
  console.log(report());
}, 180_000);

afterAll(async () => {
  // Only when the run above failed midway.
  await t?.stop();
});

describe('chaos: one fault at a time under steady load through nginx', () => {
  /** 'none', or per fault how many answers of this kind and the first two (URL and what came). */
  const figure = (kind: AnswerKind) => {
    const lines = [...load.phases].flatMap(([name, counts]) => {
      const seen = counts.examples[kind] ?? [];
      return seen.length === 0 ? [] : [`${name}: ${seen.length}, for example:`, ...seen.slice(0, 2).map((line) => `  ${line}`)];
    });
    return lines.length === 0 ? 'none' : lines.join('\n');
  };

  it('every body served is right: hits as before the faults, misses whole MP3s of the asked length', () => {
    expect(figure('wrong')).toBe('none');
  });

  it('every 5xx is a 503 with Retry-After, from the API and from nginx alike', () => {
    expect({ api: figure('bad-5xx'), nginx: figure('front-5xx') }).toEqual({ api: 'none', nginx: 'none' });
  });

  it(`every request is answered within WAIT_TIMEOUT_MS + ${(ANSWER_WITHIN_MS - WAIT_TIMEOUT_MS) / 1000} s`, () => {
    expect(figure('hung')).toBe('none');
  });

  it('nothing is asked wrongly (no redirect, no 4xx)', () => {
    expect(figure('unexpected')).toBe('none');
  });

  it(`every fault recovers within ${RECOVERY_WITHIN_MS / 1000} s`, () => {
    expect(results.map((r) => r.name)).toHaveLength(6);
    expect(results.filter((r) => typeof r.recovery !== 'number').map((r) => `${r.name}: ${formatRecovery(r.recovery)}`)).toEqual([]);
  });

  it('no process of the stack outlives its stop', () => {
    expect(seenPids.size).toBeGreaterThan(0);
    expect(leftBehind).toEqual([]);
  });
});
