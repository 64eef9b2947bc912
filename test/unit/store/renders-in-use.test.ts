// Renders being streamed are marked as used again and again while held, on a real store folder, with one
// timer for all of them and none once nothing is held; a hold tied to a real HTTP answer ends with it.
import { once } from 'node:events';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderStore, type RenderStore } from '../../../src/store/render-store.js';
import { createRendersInUse } from '../../../src/store/renders-in-use.js';

let dir: string;
let store: RenderStore;
const key = 'cd'.repeat(16);
const longAgo = new Date(Date.now() - 3_600_000);
const mtime = async () => (await stat(store.pathOf(key))).mtimeMs;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'renders-in-use-'));
  store = createRenderStore({ dir });
  const temp = await store.tempPathFor(key);
  await writeFile(temp, 'audio');
  await store.publish(temp, {
    key,
    source: 'demo/tones',
    startMs: 0,
    endMs: 1000,
    mode: 'copy',
    bytes: 5,
    durationSeconds: 1,
    renderedAt: longAgo.toISOString(),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Resolves when the render's mtime is recent again (the marker's timer ran). */
async function markedAgain(): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (Date.now() - (await mtime()) < 60_000) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the held render was never marked as used');
}

describe('renders in use', () => {
  it('marks a held render as used every refresh, until released', async () => {
    const inUse = createRendersInUse(store, { refreshMs: 20 });
    await utimes(store.pathOf(key), longAgo, longAgo);
    const release = inUse.hold(key);
    expect(inUse.held).toBe(1);
    await markedAgain();
    release();
    expect(inUse.held).toBe(0);
    // A mark sent just before the release may still be in flight: let it land before resetting the time.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await utimes(store.pathOf(key), longAgo, longAgo);
    // Released: nothing marks it any more (several refresh periods later it is still old).
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(Math.abs((await mtime()) - longAgo.getTime())).toBeLessThan(1_000);
  });

  it('counts holds per key: the render stays held until every stream of it has ended; a release twice is harmless', () => {
    const inUse = createRendersInUse(store, { refreshMs: 1_000 });
    const first = inUse.hold(key);
    const second = inUse.hold(key);
    first();
    first();
    expect(inUse.held).toBe(1);
    second();
    expect(inUse.held).toBe(0);
  });
});

describe('a hold tied to an HTTP answer', () => {
  let server: http.Server;
  let answers: http.ServerResponse[];
  let url: string;

  beforeAll(async () => {
    answers = [];
    server = http.createServer((_request, response) => answers.push(response));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
  });

  /** A request whose client goes away; resolves with the server's answer to it, once the client asked. */
  async function abandonedAnswer(): Promise<{ answer: http.ServerResponse; leave: () => void }> {
    const asked = answers.length;
    const request = http.get(url).on('error', () => undefined);
    while (answers.length === asked) await new Promise((resolve) => setTimeout(resolve, 5));
    return { answer: answers[asked]!, leave: () => request.destroy() };
  }

  it('is released when the client goes away while the render is sent', async () => {
    const inUse = createRendersInUse(store, { refreshMs: 1_000 });
    const { answer, leave } = await abandonedAnswer();
    inUse.holdUntilClosed(key, answer);
    expect(inUse.held).toBe(1);
    leave();
    await once(answer, 'close');
    expect(inUse.held).toBe(0);
  });

  it('is never taken for an answer whose client went away before the hold (its close came already)', async () => {
    const inUse = createRendersInUse(store, { refreshMs: 1_000 });
    const { answer, leave } = await abandonedAnswer();
    leave();
    await once(answer, 'close');
    inUse.holdUntilClosed(key, answer);
    expect(inUse.held).toBe(0);
  });
});
