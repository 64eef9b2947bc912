// Following a render while it is written: bytes as they are appended, the end once the render is published
// from the file followed, a retry's file taken up where the first one stopped when it repeats the bytes
// sent, and a failure (never a clean end) when the render fails, stalls, or is published or written again
// with other bytes.
import { appendFile, mkdtemp, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openGrowingRender, RenderReplaced, RenderStalled } from '../../../src/store/growing-render.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'growing-render-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const LIMITS = { pollMs: 5, switchCheckMs: 50, idleLimitMs: 5_000 };

function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Collects what the stream gives, and how it ended. */
function collect(stream: Readable): { chunks: Buffer[]; ended: Promise<'end' | Error> } {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<'end' | Error>((resolve) => {
    stream.once('end', () => resolve('end'));
    stream.once('error', resolve);
  });
  return { chunks, ended };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(condition()).toBe(true);
}

const freshFile = () => path.join(dir, `render-${Math.random().toString(36).slice(2)}.mp3`);

describe('openGrowingRender', () => {
  it('gives the bytes as they are written, and ends with all of them once the render is published from this file', async () => {
    const file = freshFile();
    await writeFile(file, 'first ');
    const done = deferred();
    const read = collect((await openGrowingRender(file, done.promise, LIMITS))!);
    await until(() => Buffer.concat(read.chunks).toString() === 'first ');
    await appendFile(file, 'second ');
    await until(() => Buffer.concat(read.chunks).toString() === 'first second ');
    // The last bytes land just before the render is published (renamed into the store).
    await appendFile(file, 'last');
    await rename(file, `${file}.published`);
    done.resolve();
    expect(await read.ended).toBe('end');
    expect(Buffer.concat(read.chunks).toString()).toBe('first second last');
  });

  it('holds back the last byte of the length it states until the render is published', async () => {
    const file = freshFile();
    await writeFile(file, 'all ten b');
    const done = deferred();
    const read = collect((await openGrowingRender(file, done.promise, LIMITS, { size: 10 }))!);
    await appendFile(file, '!'); // the whole render is written; its check and publication are still to come
    await new Promise((r) => setTimeout(r, 100));
    expect(Buffer.concat(read.chunks).toString()).toBe('all ten b');
    done.resolve();
    expect(await read.ended).toBe('end');
    expect(Buffer.concat(read.chunks).toString()).toBe('all ten b!');
  });

  it('ends whole when it finds its file published in the store while the completion is not heard (Redis gone)', async () => {
    const file = freshFile();
    await writeFile(file, 'all of it');
    const published = `${file}.published`;
    const isPublished = async (followed: { dev: number; ino: number }) => {
      const stored = await stat(published).catch(() => null);
      return stored !== null && stored.ino === followed.ino && stored.dev === followed.dev;
    };
    const read = collect((await openGrowingRender(file, deferred().promise, LIMITS, { size: 9, isPublished }))!);
    await until(() => Buffer.concat(read.chunks).length === 8);
    await rename(file, published);
    expect(await read.ended).toBe('end');
    expect(Buffer.concat(read.chunks).toString()).toBe('all of it');
  });

  it('fails, and never ends cleanly, when the render fails', async () => {
    const file = freshFile();
    await writeFile(file, 'partial');
    const done = deferred();
    const read = collect((await openGrowingRender(file, done.promise, LIMITS))!);
    await until(() => read.chunks.length > 0);
    done.reject(new Error('ffmpeg failed'));
    expect(await read.ended).toEqual(new Error('ffmpeg failed'));
  });

  it('fails with RenderStalled when the file stops growing while its render is still under way', async () => {
    const file = freshFile();
    await writeFile(file, 'stuck');
    const read = collect((await openGrowingRender(file, deferred().promise, { ...LIMITS, idleLimitMs: 100 }))!);
    expect(await read.ended).toBeInstanceOf(RenderStalled);
  });

  it('fails with RenderReplaced when the render was published from another file that it never followed', async () => {
    const file = freshFile();
    await writeFile(file, 'old attempt');
    const done = deferred();
    const read = collect((await openGrowingRender(file, done.promise, LIMITS))!);
    await until(() => read.chunks.length > 0);
    await unlink(file);
    done.resolve();
    expect(await read.ended).toBeInstanceOf(RenderReplaced);
  });

  it("goes on from a retry's file at the byte it reached, once that file repeats every byte sent, and ends with the whole render", async () => {
    const [first, retry] = [freshFile(), freshFile()];
    await writeFile(first, 'the same bytes, until the worker died');
    const done = deferred();
    let current: string | null = first;
    const read = collect((await openGrowingRender(first, done.promise, LIMITS, { currentFile: async () => current }))!);
    await until(() => Buffer.concat(read.chunks).length === 37);
    await unlink(first); // the dead worker's temp file is cleaned up
    // The retry writes from the start: while it has fewer bytes than were sent, the stream waits.
    await writeFile(retry, 'the same bytes');
    current = retry;
    await new Promise((r) => setTimeout(r, 150));
    expect(Buffer.concat(read.chunks).toString()).toBe('the same bytes, until the worker died');
    await appendFile(retry, ', until the worker died, and then the rest');
    await until(() => Buffer.concat(read.chunks).toString().endsWith('the rest'));
    await rename(retry, `${retry}.published`);
    done.resolve();
    expect(await read.ended).toBe('end');
    expect(Buffer.concat(read.chunks).toString()).toBe('the same bytes, until the worker died, and then the rest');
  });

  it("fails with RenderReplaced when a retry's file does not repeat the bytes sent", async () => {
    const [first, retry] = [freshFile(), freshFile()];
    await writeFile(first, 'bytes of the first attempt');
    let current: string | null = first;
    const read = collect((await openGrowingRender(first, deferred().promise, LIMITS, { currentFile: async () => current }))!);
    await until(() => read.chunks.length > 0);
    await writeFile(retry, 'other bytes in a retry, at least as long');
    current = retry;
    expect(await read.ended).toBeInstanceOf(RenderReplaced);
  });

  it('is null when the file is gone already', async () => {
    expect(await openGrowingRender(path.join(dir, 'never-written.mp3'), Promise.resolve(), LIMITS)).toBeNull();
  });

  it('closes its file when the reader goes away', async () => {
    const file = freshFile();
    await writeFile(file, 'bytes');
    const stream = (await openGrowingRender(file, deferred().promise, LIMITS))!;
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.destroy();
    await closed;
    expect(stream.destroyed).toBe(true);
  });
});
