// A probe that could not run (ffprobe not spawned, EMFILE under thousands of waiting sockets) says nothing
// about the file (issue 14): the catalog answers 503 and remembers nothing, so once the probe works the
// source is described. Only ffprobe's own refusal of the bytes is remembered as "not decodable".
import { copyFile, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ffprobeInstaller from '@ffprobe-installer/ffprobe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';
import { Unavailable, Unprocessable } from '../../../src/errors.js';
import { type AudioProbe, createMediaTools, type MediaTools } from '../../../src/media/ffmpeg.js';
import { createCatalog } from '../../../src/sources/catalog.js';

let root: string;
let media: MediaTools;
/** The ffprobe the tools run: a link to the bundled one, removed and put back by the tests. */
let ffprobeLink: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'catalog-probe-faults-'));
  await copyFile(path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo', 'tones.mp3'), path.join(root, 'song.mp3'));
  await writeFile(path.join(root, 'text.mp3'), 'not audio at all\n'.repeat(100));
  ffprobeLink = path.join(root, 'ffprobe');
  await symlink(ffprobeInstaller.path, ffprobeLink);
  media = await createMediaTools({ ffprobePath: ffprobeLink });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a probe that could not run', () => {
  it('an ffprobe that cannot be spawned any more (ENOENT) is a 503, and the source is described once it runs again', async () => {
    const catalog = await createCatalog({ mediaRoot: root, probe: media.probe });
    await unlink(ffprobeLink);
    try {
      await expect(catalog.describe(['song'])).rejects.toBeInstanceOf(Unavailable);
    } finally {
      await symlink(ffprobeInstaller.path, ffprobeLink);
    }
    expect(await catalog.describe(['song'])).toMatchObject({ sampleRate: 44_100, channels: 2 });
  });

  it('a probe that fails with EMFILE is a 503, not "not decodable": the next one is asked', async () => {
    let calls = 0;
    const probe = (file: string): Promise<AudioProbe> => {
      calls += 1;
      if (calls === 1)
        return Promise.reject(Object.assign(new Error('spawn ffprobe EMFILE'), { code: 'EMFILE', syscall: 'spawn ffprobe' }));
      return media.probe(file);
    };
    const catalog = await createCatalog({ mediaRoot: root, probe });
    const first = await catalog.describe(['song']).catch((error: unknown) => error);
    expect(first).toBeInstanceOf(Unavailable);
    expect((first as Unavailable).detail).not.toContain(root);
    expect(await catalog.describe(['song'])).toMatchObject({ sampleRate: 44_100 });
    expect(calls).toBe(2);
  });

  it('a file ffprobe refuses is remembered as not decodable (422) until it changes: ffprobe runs once', async () => {
    let calls = 0;
    const probe = (file: string) => {
      calls += 1;
      return media.probe(file);
    };
    const catalog = await createCatalog({ mediaRoot: root, probe });
    await expect(catalog.describe(['text'])).rejects.toBeInstanceOf(Unprocessable);
    await expect(catalog.describe(['text'])).rejects.toBeInstanceOf(Unprocessable);
    expect(calls).toBe(1);
  });
});
