// What an operator sees on the real stack: every metric of /metrics is there and moves with what happens (a
// miss, a render, a dead worker, answers by status), and one request id follows a request from nginx through
// the API into the worker that renders it.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logsDir } from '../../src/data-layout.js';
import { metricValue, segmentOutcomes } from '../helpers/metrics.js';
import { eventually, getBytes, startTestStack, type TestStack } from '../helpers/test-stack.js';

let t: TestStack;
const MAX_QUEUE_DEPTH = 2;
beforeAll(async () => {
  // debug: the request and render log lines are the subject of one test here (the worker's "rendered" is at debug).
  // A queue of 2: a few long renders asked at once wait behind the busy workers, and past 2 an ask is shed.
  t = await startTestStack({ LOG_LEVEL: 'debug', MAX_QUEUE_DEPTH: String(MAX_QUEUE_DEPTH) });
});
afterAll(async () => {
  await t?.stop();
});

/** A series' value, 0 while absent (a labelled counter before its first event). */
async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const figure = await metricValue(t.apiUrl, name, labels);
  return Number.isNaN(figure) ? 0 : figure;
}

/** Resolves when the series has risen above `from`; returns its new value. */
function risesAbove(name: string, labels: Record<string, string>, from: number): Promise<number> {
  return eventually(
    async () => {
      const now = await value(name, labels);
      return now > from ? now : undefined;
    },
    `${name}${JSON.stringify(labels)} to rise above ${from}`,
  );
}

describe('/metrics', () => {
  it('has every documented metric, each with its help', async () => {
    const text = await (await fetch(`${t.apiUrl}/metrics`)).text();
    const metrics: Array<[string, string]> = [
      ['http_requests_total', 'counter'],
      ['segment_requests_total', 'counter'],
      ['segment_render_duration_seconds', 'histogram'],
      ['segment_renders_total', 'counter'],
      ['segment_queue_depth', 'gauge'],
      ['segment_waiting_requests', 'gauge'],
      ['segment_worker_restarts_total', 'counter'],
      ['segment_store_bytes', 'gauge'],
      ['segment_queue_wait_seconds', 'histogram'],
      ['segment_first_byte_seconds', 'histogram'],
      ['segment_renders_skipped_total', 'counter'],
      ['segment_queue_depth_by_class', 'gauge'],
    ];
    for (const [name, type] of metrics) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
    // Series exist before their first event, so a rate() or an alert sees them from the start.
    for (const outcome of ['hit', 'memory_hit', 'miss', 'joined', 'shed', 'timeout', 'failed']) {
      expect(text).toContain(`segment_requests_total{outcome="${outcome}"} `);
    }
    expect(text).toMatch(/^segment_render_duration_seconds_count\{mode="exact"\} \d+$/m);
    expect(text).toMatch(/^segment_queue_depth 0$/m);
    for (const answer of ['stored', 'rendered', 'streamed'])
      expect(text).toMatch(new RegExp(`^segment_first_byte_seconds_count\\{answer="${answer}"\\} \\d+$`, 'm'));
  });

  it.each([
    ['copy', '/segments/demo/tones/1-2.5.mp3', 'rendered'],
    ['exact', '/segments/demo/tones/2-3.5.mp3?mode=exact', 'streamed'],
  ])(
    "a %s miss counts a miss, one render in its mode's duration histogram and in the queue wait, its first byte as %s, and the render's bytes in the store",
    async (mode, segment, answer) => {
      const misses = await segmentOutcomes(t.apiUrl, 'miss');
      const renders = await value('segment_render_duration_seconds_count', { mode });
      const seconds = await value('segment_render_duration_seconds_sum', { mode });
      const queueWaits = await value('segment_queue_wait_seconds_count');
      const firstBytes = await value('segment_first_byte_seconds_count', { answer });
      const storedFirstBytes = await value('segment_first_byte_seconds_count', { answer: 'stored' });
      const storeBytes = await value('segment_store_bytes');

      const { response, body } = await getBytes(t.apiUrl + segment);
      expect(response.status).toBe(200);

      expect(await segmentOutcomes(t.apiUrl, 'miss')).toBe(misses + 1);
      expect(await value('segment_first_byte_seconds_count', { answer })).toBe(firstBytes + 1);
      expect(await risesAbove('segment_render_duration_seconds_count', { mode }, renders)).toBe(renders + 1);
      expect(await value('segment_render_duration_seconds_sum', { mode })).toBeGreaterThan(seconds);
      expect(await value('segment_queue_wait_seconds_count')).toBe(queueWaits + 1);
      // At least the answer's bytes: the budget counts the render as it is published.
      expect(await value('segment_store_bytes')).toBeGreaterThanOrEqual(storeBytes + body.length);
      // The same segment again is served from this process's memory: no new render.
      expect((await getBytes(t.apiUrl + segment)).response.status).toBe(200);
      expect(await value('segment_render_duration_seconds_count', { mode })).toBe(renders + 1);
      expect(await value('segment_first_byte_seconds_count', { answer: 'stored' })).toBe(storedFirstBytes + 1);
    },
  );

  it('a repeat request straight at the API counts one memory_hit', async () => {
    // Rendered above, so no new job meets the small queue limit.
    const segment = `${t.apiUrl}/segments/demo/tones/1-2.5.mp3`;
    expect((await getBytes(segment)).response.status).toBe(200);
    const memoryHits = await segmentOutcomes(t.apiUrl, 'memory_hit');
    expect((await getBytes(segment)).response.status).toBe(200);
    expect(await segmentOutcomes(t.apiUrl, 'memory_hit')).toBe(memoryHits + 1);
  });

  it('asynchronous asks count as miss, joined and shed; segment_queue_depth reads the jobs waiting behind the busy workers', async () => {
    // The depth reading includes this process's own recent adds for up to 200 ms: start from an empty queue.
    await eventually(async () => ((await value('segment_queue_depth')) === 0 ? true : undefined), 'an empty queue');
    const before = Object.fromEntries(
      await Promise.all(['miss', 'joined', 'shed'].map(async (o) => [o, await segmentOutcomes(t.apiUrl, o)] as const)),
    );
    // Whole-source exact renders, asked faster than the workers take them.
    const ask = (fadeOut: number) =>
      fetch(`${t.apiUrl}/renders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'demo/tones', start: 0, end: 90, mode: 'exact', bitrate: 320, fade_out: fadeOut }),
      });
    // First one render per worker, so that the asks after them really wait: a depth reading taken while the
    // workers were still idle would count jobs that a worker is about to take.
    const busy = [await ask(1), await ask(2)];
    expect(busy.map((answer) => answer.status)).toEqual([202, 202]);
    const stateOf = async (answer: Response) =>
      ((await (await fetch(t.apiUrl + answer.headers.get('location'))).json()) as { status: string }).status;
    await eventually(
      async () => ((await Promise.all(busy.map(stateOf))).every((state) => state === 'rendering') ? true : undefined),
      'both workers rendering',
    );
    await eventually(
      async () => ((await value('segment_queue_depth')) === 0 ? true : undefined),
      'a depth reading taken with both workers busy',
    );
    const statuses = [202, 202];
    for (const fadeOut of [3, 4, 5]) statuses.push((await ask(fadeOut)).status);
    const accepted = statuses.filter((status) => status === 202).length;
    const shed = statuses.filter((status) => status === 503).length;
    expect(accepted + shed).toBe(5);
    expect(accepted).toBeGreaterThanOrEqual(MAX_QUEUE_DEPTH);
    expect(shed).toBeGreaterThan(0);
    expect(
      await eventually(async () => ((await value('segment_queue_depth')) > 0 ? true : undefined), 'a job waiting for the worker'),
    ).toBe(true);
    // By class: asynchronous asks, none of the other classes.
    expect(await value('segment_queue_depth_by_class', { class: 'async' })).toBeGreaterThan(0);
    expect(await value('segment_queue_depth_by_class', { class: 'interactive' })).toBe(0);
    expect(await value('segment_queue_depth_by_class', { class: 'background' })).toBe(0);
    // The last accepted one is still queued or rendering: asking again joins it.
    expect((await ask(statuses.lastIndexOf(202) + 1)).status).toBe(202);
    expect(await segmentOutcomes(t.apiUrl, 'miss')).toBe(before.miss! + accepted);
    expect(await segmentOutcomes(t.apiUrl, 'shed')).toBe(before.shed! + shed);
    expect(await segmentOutcomes(t.apiUrl, 'joined')).toBe(before.joined! + 1);
    // The tests after this one must find room in the queue.
    await eventually(async () => ((await value('segment_queue_depth')) === 0 ? true : undefined), 'the queue to drain');
  });

  it('counts answers by route pattern, method and status, not by raw URL', async () => {
    const segmentOk = { route: '/segments/*', method: 'GET', status: '200' };
    const segmentRefused = { route: '/segments/*', method: 'GET', status: '400' };
    const unmatched = { route: 'unmatched', method: 'GET', status: '404' };
    const health = { route: '/healthz', method: 'HEAD', status: '200' };
    const before = await Promise.all([segmentOk, segmentRefused, unmatched, health].map((labels) => value('http_requests_total', labels)));

    expect((await getBytes(`${t.apiUrl}/segments/demo/tones/1-2.5.mp3`)).response.status).toBe(200);
    expect((await getBytes(`${t.apiUrl}/segments/demo/tones/1-2.5.mp3?volume=11`)).response.status).toBe(400);
    for (const nowhere of ['/wp-login.php', '/no/such/page']) expect((await getBytes(t.apiUrl + nowhere)).response.status).toBe(404);
    expect((await fetch(`${t.apiUrl}/healthz`, { method: 'HEAD' })).status).toBe(200);

    // onResponse runs once the answer is out, so a scrape right after may precede the last count.
    expect(await risesAbove('http_requests_total', health, before[3]!)).toBe(before[3]! + 1);
    expect(await value('http_requests_total', segmentOk)).toBe(before[0]! + 1);
    expect(await value('http_requests_total', segmentRefused)).toBe(before[1]! + 1);
    expect(await value('http_requests_total', unmatched)).toBe(before[2]! + 2);
    const text = await (await fetch(`${t.apiUrl}/metrics`)).text();
    expect(text).not.toContain('wp-login');
  });

  it('counts a worker that died and was restarted in segment_worker_restarts_total', async () => {
    const restarts = await value('segment_worker_restarts_total');
    const victim = t.stack.workers.processes[0]!.pid;
    process.kill(victim, 'SIGKILL'); // a worker this test's stack started, by its pid
    await eventually(
      async () => (t.stack.workers.processes.every((p) => p.pid !== victim) ? true : undefined),
      'the worker to be restarted',
    );
    expect(await risesAbove('segment_worker_restarts_total', {}, restarts)).toBe(restarts + 1);
  });
});

describe('request ids in the logs', () => {
  it("nginx's X-Request-Id is the API's request id, on every line of the request, and the render's worker logs it too", async () => {
    const segment = '/segments/demo/talk/4-6.5.mp3';
    // A client's own X-Request-Id does not get through: nginx sets its $request_id.
    const { response } = await getBytes(t.url + segment, { headers: { 'x-request-id': 'chosen-by-the-client' } });
    expect(response.status).toBe(200);
    const accessLog = await eventually(async () => {
      const text = await readFile(path.join(logsDir(t.config.dataDir), 'nginx', 'access.log'), 'utf8').catch(() => '');
      return text.split('\n').find((line) => line.includes(`GET ${segment} `));
    }, 'the access log line');
    const requestId = /id=([0-9a-f]{32})$/.exec(accessLog)?.[1];
    expect(requestId).toMatch(/^[0-9a-f]{32}$/);

    const apiLines = t.logs.filter((line) => line.startsWith('api: ') && line.includes(segment));
    expect(apiLines.length).toBeGreaterThanOrEqual(1);
    for (const line of apiLines) expect(JSON.parse(line.slice('api: '.length)).requestId).toBe(requestId);
    // The API logs the request's line once the answer is out, and its pipe may deliver it after nginx's log.
    const completed = await eventually(
      async () =>
        t.logs
          .filter((line) => line.startsWith('api: ') && line.includes(`"GET ${segment} 200"`))
          .map((line) => JSON.parse(line.slice(5)))
          .find((entry) => entry.requestId === requestId),
      "the API's line of the request with the request id",
    );
    expect(completed).toMatchObject({ requestId, method: 'GET', url: segment, status: 200, outcome: 'miss', level: 30 });

    // The worker's log arrives through its own pipe, possibly a moment after the answer.
    const workerLine = await eventually(
      async () => t.logs.find((line) => /^worker-\d+: /.test(line) && line.includes('"rendered"') && line.includes(requestId!)),
      'the worker\'s "rendered" line with the request id',
    );
    expect(workerLine).toContain(requestId!);
    expect(t.logs.join('\n')).not.toContain('chosen-by-the-client');
  });
});
