// The queue dashboard's guard on the real stack: no ADMIN_TOKEN, no dashboard (404); with it, nothing under
// /admin answers without the token (401 problem+json); with it, Bull Board's page and API, which lists the
// render queue; through nginx never cached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../src/queue/render-job.js';
import { getBytes, startExtraApi, startTestStack, type TestStack } from '../helpers/test-stack.js';

const TOKEN = 'admin-token-for-the-tests-0123';
const bearer = { authorization: `Bearer ${TOKEN}` };

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ ADMIN_TOKEN: TOKEN });
});
afterAll(async () => {
  await t?.stop();
});

async function expectUnauthorized(response: Response) {
  expect(response.status).toBe(401);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
  const problem = (await response.json()) as { status: number; detail: string };
  expect(problem.status).toBe(401);
  expect(problem.detail).toContain('/admin/login');
}

describe('without ADMIN_TOKEN', () => {
  it('every /admin URL is 404, with or without a token', async () => {
    const plain = await startExtraApi(t, { ADMIN_TOKEN: '' });
    try {
      for (const url of ['/admin/queues', '/admin/queues/api/queues', '/admin/login']) {
        for (const headers of [{}, bearer]) {
          const response = await fetch(plain.url + url, { headers });
          expect(response.status, url).toBe(404);
          expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        }
      }
    } finally {
      await plain.stop();
    }
  });
});

describe('with ADMIN_TOKEN', () => {
  it.each([
    '/admin/queues',
    '/admin/queues/',
    '/admin/queues/api/queues',
    '/admin/queues/static/images/logo.svg',
    '/admin/queues/queue/segment-renders',
  ])('%s is 401 problem+json without the token, with a wrong one, or with a forged cookie', async (url) => {
    await expectUnauthorized(await fetch(t.apiUrl + url));
    await expectUnauthorized(await fetch(t.apiUrl + url, { headers: { authorization: 'Bearer not-the-token' } }));
    await expectUnauthorized(await fetch(t.apiUrl + url, { headers: { authorization: `Bearer ${TOKEN}x` } }));
    await expectUnauthorized(await fetch(t.apiUrl + url, { headers: { cookie: `mp3_segments_admin=${TOKEN}` } }));
  });

  it('with the token, the board is an HTML page and its API lists the render queue', async () => {
    const page = await fetch(`${t.apiUrl}/admin/queues`, { headers: bearer });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(await page.text()).toContain('<base href="/admin/queues/" />');

    const api = await fetch(`${t.apiUrl}/admin/queues/api/queues`, { headers: bearer });
    expect(api.status).toBe(200);
    const { queues } = (await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean }> };
    expect(queues.map((queue) => queue.name)).toEqual([QUEUE_NAME]);
    expect(queues[0]?.readOnlyMode).toBe(true);
  });

  it('a browser logs in with a POST (the token never in a URL) and its cookie opens the board, its assets and API', async () => {
    expect((await fetch(`${t.apiUrl}/admin/login`)).headers.get('content-type')).toMatch(/^text\/html/);
    const wrong = await fetch(`${t.apiUrl}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'guess' }),
      redirect: 'manual',
    });
    await expectUnauthorized(wrong);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const login = await fetch(`${t.apiUrl}/admin/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: TOKEN }),
      redirect: 'manual',
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/admin/queues');
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly; SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = { cookie: setCookie.split(';')[0]! };

    const page = await fetch(`${t.apiUrl}/admin/queues`, { headers: cookie });
    expect(page.status).toBe(200);
    // Its assets are relative to <base href="/admin/queues/">.
    const asset = /src="(static\/js\/[^"]+\.js)"/.exec(await page.text())?.[1];
    expect(asset).toMatch(/^static\/js\/[\w.-]+\.js$/);
    expect((await fetch(`${t.apiUrl}/admin/queues/${asset}`, { headers: cookie })).status).toBe(200);
    expect((await fetch(`${t.apiUrl}/admin/queues/${asset}`)).status).toBe(401);
    expect((await fetch(`${t.apiUrl}/admin/queues/api/queues`, { headers: cookie })).status).toBe(200);
  });

  it('through nginx, the board is never a cache HIT and says no-store', async () => {
    for (let i = 0; i < 3; i++) {
      const { response } = await getBytes(`${t.url}/admin/queues/api/queues`, { headers: bearer });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-cache-status')).not.toBe('HIT');
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
    const refused = await fetch(`${t.url}/admin/queues`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-cache-status')).toBe('BYPASS');
  });
});
