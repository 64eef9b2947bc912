// A published render survives a power loss whole or not at all, and a render that did not (or was cut by
// hand) is never served: issue 14. The flushes are seen as the kernel sees them, in strace's record of a
// real publish (the built store, as `npm test` builds it); the damage checks run on a real store folder.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRenderStore, type DamagedRender, type RenderStore } from '../../../src/store/render-store.js';
import { putRender, renderFacts } from '../../helpers/stored-render.js';
import { requireProgram } from '../../helpers/system-programs.js';

const key = 'ef'.repeat(16);
const facts = renderFacts(key, 1234);
/** What strace records: the calls that flush, rename, and the marker's rmdir, each with the path of its descriptor. */
const TRACED = ['-f', '-y', '-e', 'trace=fsync,fdatasync,rename,renameat,renameat2,rmdir'];
const BUILT_STORE = new URL('../../../dist/src/store/render-store.js', import.meta.url).pathname;

let dir: string;
let store: RenderStore;
let damaged: DamagedRender[];

beforeEach(async () => {
  dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'durable-publish-')));
  damaged = [];
  store = createRenderStore({ dir, onDamaged: (render) => damaged.push(render) });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const publish = () => putRender(store, facts);

/** What a publish asked of the kernel, in order: flushes (by path), renames, and the moment publish() resolved. */
type Step = { flush: string } | { rename: [string, string] } | { resolved: true };

async function tracedPublish(temp: string): Promise<Step[]> {
  const trace = path.join(dir, 'trace.txt');
  // The marker: an rmdir of a path that does not exist, right after publish() resolves, shows where that was.
  const marker = path.join(dir, 'publish-resolved');
  const script = `
    const { createRenderStore } = await import(process.env.STORE_MODULE);
    await createRenderStore({ dir: process.env.STORE_DIR }).publish(process.env.TEMP, JSON.parse(process.env.FACTS));
    await import('node:fs/promises').then((fs) => fs.rmdir(process.env.MARKER)).catch(() => undefined);`;
  const run = spawnSync(
    requireProgram('strace', 'strace'),
    [...TRACED, '-o', trace, process.execPath, '--input-type=module', '-e', script],
    {
      env: { ...process.env, STORE_MODULE: BUILT_STORE, STORE_DIR: dir, TEMP: temp, FACTS: JSON.stringify(facts), MARKER: marker },
      encoding: 'utf8',
    },
  );
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const steps: Step[] = [];
  for (const line of (await readFile(trace, 'utf8')).split('\n')) {
    const flush = /\b(?:fsync|fdatasync)\(\d+<([^>]+)>/.exec(line);
    const renamed = /\brename(?:at2?)?\((?:[^"]*)"([^"]+)", (?:[^"]*)"([^"]+)"/.exec(line);
    if (flush) steps.push({ flush: flush[1]! });
    else if (renamed) steps.push({ rename: [renamed[1]!, renamed[2]!] });
    else if (line.includes(`rmdir("${marker}"`)) steps.push({ resolved: true });
  }
  return steps;
}

describe('publishing a render', () => {
  it("flushes the audio and its facts before renaming them into place, and the shard's folder after, all before publish() resolves", async () => {
    const temp = await store.tempPathFor(key);
    await writeFile(temp, Buffer.alloc(facts.bytes, 1));
    const steps = await tracedPublish(temp);
    const at = (wanted: Step) => steps.findIndex((step) => JSON.stringify(step) === JSON.stringify(wanted));
    const audio = store.pathOf(key);
    const renameAudio = at({ rename: [temp, audio] });
    const renameFacts = at({ rename: [`${temp}.json`, audio.replace(/\.mp3$/, '.json')] });
    const resolved = at({ resolved: true });
    expect(renameAudio, JSON.stringify(steps)).toBeGreaterThan(-1);
    expect(renameFacts).toBeGreaterThan(-1);
    expect(resolved).toBeGreaterThan(renameAudio);
    // The bytes on the disk before their name: a power loss leaves no name over missing bytes.
    expect(at({ flush: temp })).toBeGreaterThan(-1);
    expect(at({ flush: temp })).toBeLessThan(renameAudio);
    expect(at({ flush: `${temp}.json` })).toBeGreaterThan(-1);
    expect(at({ flush: `${temp}.json` })).toBeLessThan(renameFacts);
    // The renames on the disk before anyone is told the render exists.
    const shardFlushed = steps.map((step) => JSON.stringify(step)).lastIndexOf(JSON.stringify({ flush: path.dirname(audio) }));
    expect(shardFlushed).toBeGreaterThan(renameAudio);
    expect(shardFlushed).toBeLessThan(resolved);
    expect((await readFile(audio)).length).toBe(facts.bytes);
  });
});

describe('a stored render whose size is not the one its facts state (a power loss, a file cut by hand)', () => {
  it('is not opened: open() is a miss, the file and its facts are removed, and the damage is reported', async () => {
    await publish();
    await truncate(store.pathOf(key), 0);
    expect(await store.open(key)).toBeNull();
    expect(damaged).toEqual([{ key, bytes: 0, expectedBytes: facts.bytes }]);
    expect(await store.list()).toEqual([]);
    await expect(readFile(store.pathOf(key).replace(/\.mp3$/, '.json'))).rejects.toThrow(/ENOENT/);
  });

  it('is not stored for has() nor done for metadata(), and is removed by either, so the next request renders it again', async () => {
    await publish();
    await truncate(store.pathOf(key), 100);
    expect(await store.has(key)).toBe(false);
    expect(await store.list()).toEqual([]);
    await publish();
    await writeFile(store.pathOf(key), Buffer.alloc(facts.bytes + 1));
    expect(await store.metadata(key)).toBeNull();
    expect(await store.list()).toEqual([]);
    expect(damaged.map((render) => render.bytes)).toEqual([100, facts.bytes + 1]);
  });

  it('is not served either when its facts are missing (unreadable or lost: nothing says what the file should hold)', async () => {
    await publish();
    await rm(store.pathOf(key).replace(/\.mp3$/, '.json'));
    expect(await store.open(key)).toBeNull();
    expect(damaged).toEqual([{ key, bytes: facts.bytes, expectedBytes: null }]);
  });

  it('a whole render opens with its size, marks nothing as damaged, and stays', async () => {
    await publish();
    const opened = await store.open(key);
    expect(opened?.size).toBe(facts.bytes);
    await opened?.handle.close();
    expect(await store.has(key)).toBe(true);
    expect(await store.metadata(key)).toEqual(facts);
    expect(damaged).toEqual([]);
  });
});
