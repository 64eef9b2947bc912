// The cluster in network namespaces (issue 17): two service nodes and a worker-only node on one Redis, one
// origin and one shared store, behind a front nginx. A herd on one new segment makes one render in the whole
// cluster and the same bytes everywhere; distinct misses are rendered on every node; a Redis restart and the
// origin's faults (500s, a stall) are survived; a service node killed under load is routed around and its
// job finished elsewhere, and started again it rejoins. Figures are printed (docs/cluster.md). Run alone: `npm run test:cluster` (root: it makes namespaces and veth pairs).
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etagFor } from '../../src/http/send-render.js';
import { QUEUE_NAME } from '../../src/queue/render-job.js';
import { RETRY_AFTER } from '../../src/retry-after.js';
import { eventually, getMaybeCut, liveProcesses, rendersTotal } from '../helpers/test-stack.js';
import { type Cluster, namespacesOf, startCluster } from '../helpers/netns-cluster.js';

let cluster: Cluster;
let prefix = '';
let groups: ReadonlySet<number> = new Set();
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

/** The renders in the shared store (<shard>/<key>.mp3; not the temp files): the hash of each one's bytes, to its key. */
async function storedRenders(dir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const shard of await readdir(dir)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of await readdir(path.join(dir, shard)))
      if (name.endsWith('.mp3')) found.set(sha(await readFile(path.join(dir, shard, name))), name.slice(0, -'.mp3'.length));
  }
  return found;
}

beforeAll(async () => {
  cluster = await startCluster({ env: { WAIT_TIMEOUT_MS: '30000', JOB_LOCK_MS: '2000', ORIGIN_TIMEOUT_MS: '1000', ORIGIN_RETRIES: '1' } });
  prefix = cluster.prefix;
  groups = cluster.groups;
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  // Nothing of the run is left: no namespace by its prefix, no process in a group it started.
  expect(namespacesOf(prefix || `mp3seg-${process.pid}`)).toEqual([]);
  const left = (await liveProcesses()).filter((p) => groups.has(p.pgrp) || groups.has(p.pid));
  expect(left).toEqual([]);
}, 60_000);

describe('a cluster of two service nodes and a worker node in network namespaces', () => {
  it('a herd of 200 requests for one new segment, over both service nodes, makes one render in the cluster, the same bytes everywhere', async () => {
    const url = `${cluster.frontUrl}/segments/demo/tones/3.5-21.25.mp3?mode=exact`;
    const before = await rendersTotal(cluster.nodeUrl('svc1'));
    const rendersBefore = { ...cluster.rendersByNode };
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 200 }, () => get(url)));
    const ms = Math.round(performance.now() - started);
    const statuses = answers.map((a) => a.status);
    expect(
      statuses.filter((s) => s !== 200),
      cluster.logs.slice(-20).join('\n'),
    ).toEqual([]);
    const byNode = new Map<string, number>();
    for (const answer of answers) {
      const node = answer.headers.get('x-node') ?? '?';
      byNode.set(node, (byNode.get(node) ?? 0) + 1);
    }
    // Round robin: both service nodes took part of the herd.
    expect([...byNode.keys()].sort()).toEqual([`${cluster.nodeUrl('svc1').slice(7)}`, `${cluster.nodeUrl('svc2').slice(7)}`].sort());
    const hashes = new Set(answers.map((a) => sha(a.body)));
    expect(hashes.size).toBe(1);
    // One render in the whole cluster: the render counter (one in Redis for every worker, read through
    // either API) and the temp files opened in the shared store.
    expect((await rendersTotal(cluster.nodeUrl('svc1'))) - before).toBe(1);
    expect(await rendersTotal(cluster.nodeUrl('svc2'))).toBe(await rendersTotal(cluster.nodeUrl('svc1')));
    const attempts = (Object.keys(rendersBefore) as Array<keyof typeof rendersBefore>).reduce(
      (sum, node) => sum + cluster.rendersByNode[node] - rendersBefore[node],
      0,
    );
    expect(attempts).toBe(1);
    // The same bytes from each node's own nginx (its cache, or the store) and in the store itself.
    // Every answer's ETag, and each node's own, names that render: its key in the store.
    const key = (await storedRenders(cluster.storeDir)).get([...hashes][0]!);
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(answers.map((a) => a.headers.get('etag')))).toEqual(new Set([etagFor(key!)]));
    const path1 = new URL(url).pathname + new URL(url).search;
    for (const node of ['svc1', 'svc2'] as const) {
      const direct = await get(`${cluster.nodeUrl(node)}${path1}`);
      expect(direct.status).toBe(200);
      expect(sha(direct.body)).toBe([...hashes][0]);
      expect(direct.headers.get('etag')).toBe(etagFor(key!));
    }
    console.log(
      `[cluster] herd: 200 requests in ${ms} ms, by node ${JSON.stringify(Object.fromEntries(byNode))}, renders +1, temp files ${attempts}, ${answers[0]?.body.length} bytes each`,
    );
  }, 120_000);

  it('distinct misses are rendered by the workers of every node', async () => {
    const before = { ...cluster.rendersByNode };
    const totalBefore = await rendersTotal(cluster.nodeUrl('svc1'));
    const urls = Array.from({ length: 36 }, (_, i) => {
      const source = ['tones', 'chirp', 'talk'][i % 3];
      const start = 1 + Math.floor(i / 3);
      return `${cluster.frontUrl}/segments/demo/${source}/${start}-${start + 4.5}.mp3?mode=exact`;
    });
    const started = performance.now();
    const answers = await Promise.all(urls.map((url) => get(url)));
    const ms = Math.round(performance.now() - started);
    expect(
      answers.map((a) => a.status).filter((s) => s !== 200),
      cluster.logs.slice(-20).join('\n'),
    ).toEqual([]);
    const counts = {
      svc1: cluster.rendersByNode.svc1 - before.svc1,
      svc2: cluster.rendersByNode.svc2 - before.svc2,
      wrk: cluster.rendersByNode.wrk - before.wrk,
    };
    console.log(`[cluster] 36 distinct exact misses in ${ms} ms; renders by node ${JSON.stringify(counts)}`);
    expect((await rendersTotal(cluster.nodeUrl('svc1'))) - totalBefore).toBe(36);
    expect(counts.svc1 + counts.svc2 + counts.wrk).toBe(36);
    expect(counts.svc1).toBeGreaterThan(0);
    expect(counts.svc2).toBeGreaterThan(0);
    expect(counts.wrk).toBeGreaterThan(0);
  }, 120_000);
});

/** One answer of the steady load: when it ended (ms since the load began), what it was. */
interface LoadAnswer {
  url: string;
  sentAt: number;
  endedAt: number;
  status: number;
  retryAfter: string | null;
  node: string | null;
  /** The body of a 200 (whole or cut short). */
  body: Buffer | null;
  /** False when the connection ended before its Content-Length: a transfer cut by the kill. */
  whole: boolean;
  /** What a non-200 said (its problem's detail), or the client's error. */
  detail?: string;
}

/** A new exact segment per n (8 s from a start in 0-10 s): a miss the cluster has not rendered yet. */
function freshSegment(n: number, salt: number): string {
  const startMs = (n * 37 + salt) % 10_000;
  const source = n % 2 === 0 ? 'tones' : 'chirp';
  return `/segments/demo/${source}/${startMs / 1000}-${(startMs + 8_000) / 1000}.mp3?mode=exact`;
}

describe('Redis restarted', () => {
  it('while it is down, HITs are served and misses get 503 + Retry-After; once it is back, every node recovers by itself', async () => {
    const hitPath = '/segments/demo/tones/3.5-21.25.mp3?mode=exact'; // the herd's
    // In each node's cache before Redis goes (already so after the herd; this test may also run alone).
    for (const node of ['svc1', 'svc2'] as const) expect((await get(`${cluster.nodeUrl(node)}${hitPath}`)).status).toBe(200);
    await cluster.stopRedis();
    const downAt = performance.now();
    for (const node of ['svc1', 'svc2'] as const) {
      // Each API sees it gone (readiness says so) before the misses are tried.
      await eventually(
        async () => ((await fetch(`${cluster.nodeUrl(node)}/readyz`).then((r) => r.status)) === 503 ? true : undefined),
        `${node} to see Redis gone`,
      );
      expect((await get(`${cluster.nodeUrl(node)}${hitPath}`)).status).toBe(200);
      const miss = await get(`${cluster.nodeUrl(node)}${freshSegment(1000 + (node === 'svc1' ? 1 : 2), 7)}`);
      expect(miss.status).toBe(503);
      // The queue cannot be reached: the wait the one Retry-After policy gives that reason.
      expect(miss.headers.get('retry-after')).toBe(String(RETRY_AFTER.queueUnreachable));
      expect(miss.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    await cluster.startRedis();
    const upAt = performance.now();
    // Nothing restarted by hand: each API is ready again, and each node's own misses are rendered.
    for (const node of ['svc1', 'svc2'] as const) {
      await eventually(
        async () =>
          (await fetch(`${cluster.nodeUrl(node)}/readyz`).then(
            (r) => r.ok,
            () => false,
          ))
            ? true
            : undefined,
        `${node} ready again`,
      );
    }
    const readyMs = Math.round(performance.now() - upAt);
    const before = { ...cluster.rendersByNode };
    const urls = Array.from({ length: 24 }, (_, i) => freshSegment(2000 + i, 11));
    const answers = await Promise.all(urls.map((url, i) => get(`${cluster.nodeUrl(i % 2 === 0 ? 'svc1' : 'svc2')}${url}`)));
    expect(answers.map((a) => a.status)).toEqual(urls.map(() => 200));
    const counts = {
      svc1: cluster.rendersByNode.svc1 - before.svc1,
      svc2: cluster.rendersByNode.svc2 - before.svc2,
      wrk: cluster.rendersByNode.wrk - before.wrk,
    };
    expect(counts.svc1).toBeGreaterThan(0);
    expect(counts.svc2).toBeGreaterThan(0);
    expect(counts.wrk).toBeGreaterThan(0);
    console.log(
      `[cluster] Redis restart: down ${Math.round(upAt - downAt)} ms (HITs 200, misses 503 + Retry-After); both APIs ready ${readyMs} ms after it was back; 24 misses after it rendered by node ${JSON.stringify(counts)}`,
    );
  }, 120_000);
});

describe('the origin failing', () => {
  for (const fault of ['500', 'stall'] as const) {
    it(`origin ${fault === '500' ? 'answering 500' : 'stalled'}: misses get 503 + Retry-After, HITs are served, and the miss renders once it is back`, async () => {
      const hitPath = '/segments/demo/tones/3.5-21.25.mp3?mode=exact'; // the herd's
      for (const node of ['svc1', 'svc2'] as const) expect((await get(`${cluster.nodeUrl(node)}${hitPath}`)).status).toBe(200);
      const missPath = freshSegment(fault === '500' ? 3001 : 3002, 13);
      await cluster.originFault(fault);
      try {
        const started = performance.now();
        const miss = await get(`${cluster.frontUrl}${missPath}`);
        const missMs = Math.round(performance.now() - started);
        expect(miss.status, miss.body.toString()).toBe(503);
        // Answered by a service node (not the front's own 503), for the origin: its reason's Retry-After.
        expect(miss.headers.get('retry-after')).toBe(String(RETRY_AFTER.originFailed));
        expect(JSON.parse(miss.body.toString()).detail).toMatch(/media origin/);
        for (const node of ['svc1', 'svc2'] as const) {
          const hit = await get(`${cluster.nodeUrl(node)}${hitPath}`);
          expect(hit.status).toBe(200);
          expect(hit.headers.get('x-cache-status')).toBe('HIT');
        }
        await cluster.originFault('none');
        const backAt = performance.now();
        // Not remembered as a failure past its Retry-After: the miss renders on a retry once the origin is back.
        const retried = await eventually(
          async () => {
            const answer = await get(`${cluster.frontUrl}${missPath}`);
            return answer.status === 200 ? answer : undefined;
          },
          'the miss to render after the origin is back',
          60_000,
        );
        expect(retried.body.length).toBeGreaterThan(0);
        console.log(
          `[cluster] origin ${fault}: a miss answered 503 + Retry-After ${miss.headers.get('retry-after')} after ${missMs} ms; HITs 200 on both nodes; ` +
            `the miss rendered ${Math.round(performance.now() - backAt)} ms after the origin was back`,
        );
      } finally {
        await cluster.originFault('none');
      }
    }, 120_000);
  }
});

describe('a service node killed under steady load, then started again', () => {
  it('the front routes around it, its in-flight jobs are finished elsewhere, only 503 + Retry-After, no wrong bytes', async () => {
    const connection = new Redis(cluster.redisUrl, { maxRetriesPerRequest: null });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    await events.waitUntilReady();
    const stalled: string[] = [];
    const completed = new Set<string>();
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    events.on('completed', ({ jobId }) => completed.add(jobId));
    const hitPath = '/segments/demo/tones/3.5-21.25.mp3?mode=exact'; // the herd's: a HIT on both nodes by now
    const answers: LoadAnswer[] = [];
    const began = performance.now();
    const now = () => Math.round(performance.now() - began);
    const loadMs = 14_000;
    const killAt = 4_000;
    let next = 0;
    const client = async () => {
      while (now() < loadMs) {
        const n = next++;
        const url = n % 4 === 3 ? hitPath : freshSegment(n, 1);
        const sentAt = now();
        // A fresh connection each (no keep-alive), read to its end or to where it was cut short.
        const answer = await getMaybeCut(`${cluster.frontUrl}${url}`).then(
          (got) => ({
            status: got.status,
            retryAfter: (got.headers['retry-after'] as string | undefined) ?? null,
            // $upstream_addr lists every node tried ("a, b" after a refused connect): the last one answered.
            node: ((got.headers['x-node'] as string | undefined) ?? '').split(', ').pop() || null,
            body: got.status === 200 ? got.body : null,
            detail: got.status === 200 ? undefined : got.body.toString().slice(0, 200),
            whole: got.whole,
          }),
          (error: Error) => ({ status: 0, retryAfter: null, node: null, body: null, whole: false, detail: error.message }),
        );
        answers.push({ url, sentAt, endedAt: now(), ...answer });
      }
    };
    const killed = (async () => {
      await new Promise((wake) => setTimeout(wake, killAt));
      const at = now();
      await cluster.killNode('svc2');
      return at;
    })();
    await Promise.all([...Array.from({ length: 8 }, client), killed]);
    const killedAt = await killed;
    // The jobs the killed node's worker held were taken up again (BullMQ's stalled check) and completed.
    await eventually(async () => (stalled.every((id) => completed.has(id)) ? true : undefined), 'the stalled jobs to complete');
    await events.close();
    await connection.quit();

    const failures = answers.filter((a) => a.status !== 200);
    // Only 503 with Retry-After: no reset, no 502/504, no 500.
    expect(
      failures.filter((a) => a.status !== 503 || !a.retryAfter).map(({ body: _, ...a }) => a),
      cluster.logs.slice(-20).join('\n'),
    ).toEqual([]);
    // Routed around it: nothing that was sent a second after the kill was answered by svc2.
    const svc2 = cluster.nodeUrl('svc2').slice('http://'.length);
    expect(answers.filter((a) => a.sentAt > killedAt + 1_000 && a.node === svc2)).toEqual([]);
    // No wrong bytes: every 200 is (or, cut short by the kill, begins with) the bytes svc1 answers for its
    // URL now, from the store every node shares; a cut one is completed by a Range request for the rest.
    const cut = answers.filter((a) => a.status === 200 && !a.whole);
    for (const a of answers.filter((x) => x.body)) {
      const right = await get(`${cluster.nodeUrl('svc1')}${a.url}`);
      expect(right.status).toBe(200);
      if (a.whole) expect(sha(a.body!)).toBe(sha(right.body));
      else {
        expect(sha(a.body!)).toBe(sha(right.body.subarray(0, a.body!.length)));
        const rest = await get(`${cluster.frontUrl}${a.url}`, { headers: { Range: `bytes=${a.body!.length}-` } });
        expect(rest.status).toBe(206);
        expect(sha(Buffer.concat([a.body!, rest.body]))).toBe(sha(right.body));
      }
    }
    // Every URL that got a 503 answers 200 on a retry (its job was finished by another node's worker).
    for (const url of new Set(failures.map((a) => a.url))) expect((await get(`${cluster.frontUrl}${url}`)).status).toBe(200);
    const lastFailure = Math.max(killedAt, ...failures.map((a) => a.endedAt));
    const spanning = answers.filter((a) => a.sentAt <= killedAt && a.endedAt >= killedAt);
    const slowest = Math.max(0, ...spanning.map((a) => a.endedAt - killedAt));
    console.log(
      `[cluster] node kill: ${answers.length} answers in ${loadMs} ms (8 clients), killed svc2 at ${killedAt} ms; ` +
        `${answers.filter((a) => a.status === 200).length} x 200 (${cut.length} cut short by the kill), ${failures.length} x 503 + Retry-After; ` +
        `last 503 ended ${lastFailure - killedAt} ms after the kill; ${spanning.length} requests in flight at the kill, ` +
        `the last answered ${slowest} ms after it; stalled jobs taken up again: ${stalled.length}; ` +
        `503s: ${JSON.stringify(failures.map((a) => ({ sentAt: a.sentAt, endedAt: a.endedAt, node: a.node, detail: a.detail })))}`,
    );
  }, 120_000);

  // After the kill above: svc2 is down.
  it('started again, it rejoins by itself: the front sends it requests again, its worker renders, its cache is right', async () => {
    const hitPath = '/segments/demo/tones/3.5-21.25.mp3?mode=exact';
    const svc2 = cluster.nodeUrl('svc2').slice('http://'.length);
    const startedAt = performance.now();
    await cluster.startNode('svc2');
    const readyMs = Math.round(performance.now() - startedAt);
    // The front skipped svc2 for its fail_timeout (2 s) after the kill; round robin gives it its share again.
    const rejoined = await eventually(
      async () => {
        const answer = await get(`${cluster.frontUrl}${hitPath}`);
        return answer.headers.get('x-node')?.split(', ').pop() === svc2 ? answer : undefined;
      },
      'the front to send svc2 a request again',
      30_000,
    );
    const rejoinMs = Math.round(performance.now() - startedAt);
    // Its nginx cache is what the kill left of it (nginx writes a temp file, then renames): the right bytes.
    const right = await get(`${cluster.nodeUrl('svc1')}${hitPath}`);
    expect(rejoined.status).toBe(200);
    expect(sha(rejoined.body)).toBe(sha(right.body));
    const before = { ...cluster.rendersByNode };
    const urls = Array.from({ length: 12 }, (_, i) => freshSegment(4000 + i, 17));
    const answers = await Promise.all(urls.map((url) => get(`${cluster.frontUrl}${url}`)));
    expect(answers.map((a) => a.status)).toEqual(urls.map(() => 200));
    const answeredBySvc2 = answers.filter((a) => a.headers.get('x-node')?.split(', ').pop() === svc2).length;
    const counts = {
      svc1: cluster.rendersByNode.svc1 - before.svc1,
      svc2: cluster.rendersByNode.svc2 - before.svc2,
      wrk: cluster.rendersByNode.wrk - before.wrk,
    };
    expect(answeredBySvc2).toBeGreaterThan(0);
    expect(counts.svc2).toBeGreaterThan(0);
    console.log(
      `[cluster] node restart: svc2 ready ${readyMs} ms after its start, answering through the front ${rejoinMs} ms after it; ` +
        `12 new misses: ${answeredBySvc2} answered by svc2, renders by node ${JSON.stringify(counts)}`,
    );
  }, 120_000);
});
