// GET/HEAD /segments/{source}/{start}-{end}.mp3 on the API built in-process (startApi) over a real Redis,
// driven with app.inject(): with an in-process worker (real ffmpeg) a miss is rendered and answered; without
// one, the waits run out and the limits refuse at once.
import { truncate } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeDir } from '../../../src/data-layout.js';
import { jobPriorityOf } from '../../../src/queue/render-priority.js';
import { createRenderStore } from '../../../src/store/render-store.js';
import { readMp3 } from '../../helpers/mp3-frames.js';
import { buildTestApi, type TestApi } from '../../helpers/test-api.js';
import { startTestRedis, type TestRedis } from '../../helpers/test-redis.js';
import { eventually } from '../../helpers/test-stack.js';

const ETAG = /^"[0-9a-f]{32}"$/;
const PROBLEM = /^application\/problem\+json/;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** A segment_requests_total figure of the app, as /metrics reports it. */
async function segmentsCounted(api: TestApi, outcome: string): Promise<number> {
  const text = (await api.app.inject({ url: '/metrics' })).body;
  return Number(new RegExp(`^segment_requests_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

describe('with a worker rendering the misses', { sequential: true }, () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await buildTestApi({}, { redis, worker: true });
  });
  afterAll(async () => {
    await api?.stop();
  });

  const url = '/segments/demo/tones/10-20.mp3';

  it('a miss is rendered and answered 200 audio/mpeg with its length, a strong ETag and MP3 bytes of the asked length', async () => {
    const missesBefore = await segmentsCounted(api, 'miss');
    const response = await api.app.inject({ method: 'GET', url });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
    expect(response.headers['content-type']).toBe('audio/mpeg');
    expect(response.headers['accept-ranges']).toBe('bytes');
    expect(response.headers.etag).toMatch(ETAG);
    const body = response.rawPayload;
    expect(Number(response.headers['content-length'])).toBe(body.length);
    const mp3 = readMp3(body);
    // Frame sync (eleven set bits) where the audio starts, after an ID3v2 tag if there is one.
    expect(body[mp3.id3v2Bytes]).toBe(0xff);
    expect(body[mp3.id3v2Bytes + 1]! & 0xe0).toBe(0xe0);
    expect(mp3.sampleRate).toBeGreaterThan(0);
    expect(Math.abs(mp3.rawDurationSeconds - 10)).toBeLessThan(0.1);
    expect(await segmentsCounted(api, 'miss')).toBe(missesBefore + 1);
  });

  it('a second ask is a hit: the same ETag and the same bytes, no new render', async () => {
    // Its own segment, asked twice here: the case does not lean on the one before.
    const twice = '/segments/demo/tones/50-55.mp3';
    const hits = async () => (await segmentsCounted(api, 'hit')) + (await segmentsCounted(api, 'memory_hit'));
    const [missesBefore, hitsBefore] = [await segmentsCounted(api, 'miss'), await hits()];
    const first = await api.app.inject({ method: 'GET', url: twice });
    expect(first.statusCode).toBe(200);
    expect(first.headers.etag).toMatch(ETAG);
    expect(await segmentsCounted(api, 'miss')).toBe(missesBefore + 1);
    const second = await api.app.inject({ method: 'GET', url: twice });
    expect(second.statusCode).toBe(200);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.rawPayload.equals(first.rawPayload)).toBe(true);
    expect(await segmentsCounted(api, 'miss')).toBe(missesBefore + 1);
    expect(await hits()).toBe(hitsBefore + 1);
  });

  it('a non-canonical spelling is redirected (308) to the canonical URL', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/segments/demo/tones/010-20.50.mp3' });
    expect(response.statusCode).toBe(308);
    expect(response.headers.location).toBe('/segments/demo/tones/10-20.5.mp3');
    expect(response.rawPayload.length).toBe(0);
    // Kept briefly: spellings must not fill caches for a day.
    expect(response.headers['cache-control']).toBe('public, max-age=60');
  });

  it('a non-canonical spelling of a source that does not exist is 404, never a redirect', async () => {
    for (const url of ['/segments/demo/missing/010-20.mp3', '/segments/demo/%6Dissing/10-20.mp3']) {
      const response = await api.app.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type']).toMatch(PROBLEM);
    }
  });

  it('an unknown query parameter is 400 problem+json naming it', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/segments/demo/tones/10-20.mp3?volume=11' });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json()).toMatchObject({ status: 400, detail: expect.stringContaining("'volume'") });
  });

  it('a source that does not exist is 404 problem+json', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/segments/demo/missing/10-20.mp3' });
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json()).toMatchObject({ status: 404, type: 'urn:mp3-segments:problem:source-not-found' });
  });

  it('a start at or past the end of the source is 422', async () => {
    // tones.mp3 lasts 90 s.
    const response = await api.app.inject({ method: 'GET', url: '/segments/demo/tones/500-510.mp3' });
    expect(response.statusCode).toBe(422);
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json()).toMatchObject({ status: 422, detail: expect.stringMatching(/past the end/) });
  });

  it('Prefer: respond-async is answered 202 at once with the status URL and { id, status }', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/segments/demo/chirp/1-3.mp3', headers: { prefer: 'respond-async' } });
    expect(response.statusCode).toBe(202);
    expect(response.headers['preference-applied']).toBe('respond-async');
    const body = response.json() as { id: string; status: string };
    expect(body.id).toMatch(/^[0-9a-f]{32}$/);
    expect(['queued', 'rendering', 'done']).toContain(body.status);
    expect(response.headers.location).toBe(`/renders/${body.id}`);
  });
});

describe('with a worker and no memory copy of renders (every hit opens the store)', { sequential: true }, () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await buildTestApi({ HOT_CACHE_MAX_BYTES: '0' }, { redis, worker: true });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('a stored render cut short (a power loss, a hand) is never served: it is rendered again, whole, under the same ETag', async () => {
    const url = '/segments/demo/tones/20-25.mp3';
    const first = await api.app.inject({ method: 'GET', url });
    expect(first.statusCode).toBe(200);
    const stored = createRenderStore({ dir: storeDir(api.config.dataDir) }).pathOf(String(first.headers.etag).slice(1, -1));
    await truncate(stored, Math.floor(first.rawPayload.length / 2));
    const missesBefore = await segmentsCounted(api, 'miss');
    const again = await api.app.inject({ method: 'GET', url });
    expect(again.statusCode).toBe(200);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(Number(again.headers['content-length'])).toBe(first.rawPayload.length);
    expect(again.rawPayload.equals(first.rawPayload)).toBe(true);
    expect(await segmentsCounted(api, 'miss')).toBe(missesBefore + 1);
  });
});

describe('with no worker', { sequential: true }, () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await buildTestApi({ WAIT_TIMEOUT_MS: '1000', MAX_WAITING_REQUESTS: '1' }, { redis });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it('a miss that waits past WAIT_TIMEOUT_MS is 503 with Retry-After', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/segments/demo/tones/30-40.mp3' });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.headers['content-type']).toMatch(PROBLEM);
    expect(response.json()).toMatchObject({ status: 503, detail: expect.stringMatching(/still rendering/) });
    expect(await segmentsCounted(api, 'timeout')).toBe(1);
  });

  it("a revalidation naming the render's ETag is 304 at once, without the render being stored or made", async () => {
    const url = '/segments/demo/tones/60-61.mp3';
    const accepted = await api.app.inject({ method: 'GET', url, headers: { prefer: 'respond-async' } });
    const etag = `"${(accepted.json() as { id: string }).id}"`;
    const revalidated = await api.app.inject({ method: 'GET', url, headers: { 'if-none-match': etag } });
    expect(revalidated.statusCode).toBe(304);
    expect(revalidated.headers.etag).toBe(etag);
    expect(revalidated.headers['cache-control']).toBe('public, max-age=86400');
    expect(revalidated.rawPayload.length).toBe(0);
    expect(api.app.renderQueue.waiter.waiting).toBe(0);
  });

  it('past MAX_WAITING_REQUESTS a miss for another segment is shed at once: 503 with Retry-After', async () => {
    // Its source probed beforehand, so the second miss reaches the limit well within the first one's wait.
    expect((await api.app.inject({ url: '/sources/demo/talk' })).statusCode).toBe(200);
    const waiting = api.app.inject({ method: 'GET', url: '/segments/demo/tones/40-50.mp3' });
    await eventually(async () => (api.app.renderQueue.waiter.waiting === 1 ? true : undefined), 'the first miss to wait');

    const shed = await api.app.inject({ method: 'GET', url: '/segments/demo/talk/1-2.mp3' });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('2');
    expect(shed.json()).toMatchObject({ status: 503, detail: expect.stringMatching(/already waiting/) });
    expect(await segmentsCounted(api, 'shed')).toBe(1);
    // The first one still waits on its own render, then runs out of time.
    expect((await waiting).statusCode).toBe(503);
  });

  it('queues each ask by who waits and how urgent it says it is (Priority, RFC 9218)', async () => {
    const priorityOf = async (id: string) => (await api.app.renderQueue.queue.getJob(id))?.priority;
    // A listener of default urgency: its 503 after WAIT_TIMEOUT_MS leaves the job queued (no worker).
    const listening = await api.app.inject({ url: '/segments/demo/chirp/2-4.mp3' });
    expect(listening.statusCode).toBe(503);
    const asked = async (url: string, headers: Record<string, string>) => {
      const response = await api.app.inject({ url, headers: { prefer: 'respond-async', ...headers } });
      expect(response.statusCode).toBe(202);
      return (response.json() as { id: string }).id;
    };
    const asyncId = await asked('/segments/demo/chirp/4-6.mp3', {});
    const urgentAsyncId = await asked('/segments/demo/chirp/6-8.mp3', { priority: 'u=1, i' });
    const warmId = await asked('/segments/demo/chirp/8-10.mp3', { priority: 'u=7' });
    const jobs = await api.app.renderQueue.queue.getJobs(['prioritized']);
    const listenerJob = jobs.find((job) => job.data.spec.startMs === 2_000);
    expect({
      listener: listenerJob?.priority,
      async: await priorityOf(asyncId),
      urgentAsync: await priorityOf(urgentAsyncId),
      warm: await priorityOf(warmId),
    }).toEqual({
      listener: jobPriorityOf({ waiting: true, urgency: 3 }),
      async: jobPriorityOf({ waiting: false, urgency: 3 }),
      urgentAsync: jobPriorityOf({ waiting: false, urgency: 1 }),
      warm: jobPriorityOf({ waiting: false, urgency: 7 }),
    });
  });
});
