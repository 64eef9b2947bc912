// The cluster in network namespaces (issue 17): two service nodes and a worker-only node on one Redis, one
// origin and one shared store, behind a front nginx. A herd on one new segment makes one render in the whole
// cluster and the same bytes everywhere; distinct misses are rendered on every node. Figures are printed
// (docs/cluster.md). Run alone: `npm run test:cluster` (root: it makes namespaces and veth pairs).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveProcesses, rendersTotal } from '../helpers/test-stack.js';
import { type Cluster, namespacesOf, startCluster } from '../helpers/netns-cluster.js';

let cluster: Cluster;
let prefix = '';
let groups: ReadonlySet<number> = new Set();
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function get(url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

beforeAll(async () => {
  cluster = await startCluster({ env: { WAIT_TIMEOUT_MS: '30000', JOB_LOCK_MS: '2000' } });
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
    const path1 = new URL(url).pathname + new URL(url).search;
    for (const node of ['svc1', 'svc2'] as const) {
      const direct = await get(`${cluster.nodeUrl(node)}${path1}`);
      expect(direct.status).toBe(200);
      expect(sha(direct.body)).toBe([...hashes][0]);
    }
    const etag = answers[0]?.headers.get('etag');
    expect(etag).toBeTruthy();
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
