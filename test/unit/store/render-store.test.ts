// The render store on a real folder: temp files are named for their writer, and only a dead writer's on
// this machine are cleaned up; listing and removing renders.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderStore, type RenderStore } from '../../../src/store/render-store.js';
import { putRender, renderFacts } from '../../helpers/stored-render.js';

let dir: string;
let store: RenderStore;
const key = 'ab'.repeat(16);
/** The pid of a process that has ended. */
const deadPid = () => spawnSync('true').pid!;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'render-store-'));
  store = createRenderStore({ dir, host: 'worker.example' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('temp files', () => {
  it('are named <key>.<pid>.<host>.<random>.mp3, the host made safe for the name', async () => {
    const temp = await store.tempPathFor(key);
    expect(path.basename(temp)).toMatch(new RegExp(`^${key}\\.${process.pid}\\.worker-example\\.[0-9a-f]{8}\\.mp3$`));
  });

  it("of a dead writer on this machine are removed; a live writer's and another machine's are kept", async () => {
    const tempDir = path.join(dir, '.tmp');
    const dead = deadPid();
    const names = [
      `${key}.${dead}.worker-example.00000001.mp3`,
      `${key}.${dead}.worker-example.00000001.mp3.json`,
      `${key}.${dead}.other-host.00000002.mp3`,
      `${key}.${process.pid}.worker-example.00000003.mp3`,
    ];
    for (const name of names) await writeFile(path.join(tempDir, name), 'partial');
    expect(await store.removeOrphanTemps()).toBe(2);
    expect((await readdir(tempDir)).sort()).toEqual(expect.arrayContaining([names[2], names[3]]));
    expect(await store.removeTemps(process.pid)).toBeGreaterThanOrEqual(1);
    expect(await readdir(tempDir)).toEqual([names[2]]);
  });
});

describe('renders', () => {
  it('are listed with their size and removed audio first, facts too', async () => {
    await putRender(store, renderFacts(key, 1234));
    expect((await store.list()).map(({ key: listed, bytes }) => ({ listed, bytes }))).toEqual([{ listed: key, bytes: 1234 }]);
    await store.remove(key);
    expect(await store.list()).toEqual([]);
    expect(await readdir(path.join(dir, 'ab'))).toEqual([]);
  });
});
