import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceNotFound } from '../../../src/errors.js';
import { realMediaRoot, resolveSource } from '../../../src/sources/resolve-source.js';

let base: string;
let root: string;
let outside: string;

beforeAll(async () => {
  base = await realMediaRoot(await mkdtemp(path.join(os.tmpdir(), 'resolve-source-')));
  root = path.join(base, 'media');
  // A sibling whose name starts with the root's name: a prefix check without the separator would let it in.
  outside = path.join(base, 'media-outside');
  await mkdir(path.join(root, 'sub'), { recursive: true });
  await mkdir(path.join(root, 'x.mp3'));
  await mkdir(outside);
  await writeFile(path.join(root, 'a.mp3'), 'ID3 a');
  await writeFile(path.join(root, 'sub', 'b.mp3'), 'ID3 bb');
  await writeFile(path.join(root, 'my show (live) café.mp3'), 'ID3 c');
  await writeFile(path.join(root, 'notes.txt'), 'not audio');
  await writeFile(path.join(outside, 'secret.mp3'), 'ID3 secret');
  await symlink(path.join(outside, 'secret.mp3'), path.join(root, 'escape.mp3'));
  await symlink(outside, path.join(root, 'outdir'));
  await symlink(path.join(root, 'notes.txt'), path.join(root, 'notes.mp3'));
  await symlink(path.join(root, 'a.mp3'), path.join(root, 'alias.mp3'));
  await symlink(path.join(root, 'missing.mp3'), path.join(root, 'dangling.mp3'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function notFound(source: string[]): Promise<SourceNotFound> {
  const error = await resolveSource(root, source).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(SourceNotFound);
  return error as SourceNotFound;
}

describe('resolveSource', () => {
  it('resolves a file at the top of the root', async () => {
    const facts = await stat(path.join(root, 'a.mp3'));
    expect(await resolveSource(root, ['a'])).toEqual({
      name: 'a',
      file: path.join(root, 'a.mp3'),
      size: 5,
      mtimeMs: Math.trunc(facts.mtimeMs),
    });
  });

  it('resolves a file in a subfolder, naming it by its URL path', async () => {
    expect(await resolveSource(root, ['sub', 'b'])).toMatchObject({ name: 'sub/b', file: path.join(root, 'sub', 'b.mp3'), size: 6 });
  });

  it('names a source with spaces, parentheses and accents in its percent-encoded URL spelling', async () => {
    expect(await resolveSource(root, ['my show (live) café'])).toMatchObject({
      name: 'my%20show%20(live)%20caf%C3%A9',
      file: path.join(root, 'my show (live) café.mp3'),
    });
  });

  it('follows a symlink that stays inside the root to its real file', async () => {
    expect(await resolveSource(root, ['alias'])).toMatchObject({ name: 'alias', file: path.join(root, 'a.mp3'), size: 5 });
  });

  it('does not find a source that is not there', async () => {
    expect((await notFound(['nothing'])).detail).toBe("There is no source 'nothing': no file nothing.mp3 below the media root.");
  });

  it('does not follow a symlinked file out of the root, nor say where it points', async () => {
    const error = await notFound(['escape']);
    expect(error.detail).toBe("There is no source 'escape': no file escape.mp3 below the media root.");
    expect(error.detail).not.toContain(outside);
  });

  it('does not follow a symlinked folder out of the root', async () => {
    await notFound(['outdir', 'secret']);
  });

  it('does not serve a file that is not .mp3, even through an .mp3 symlink', async () => {
    await notFound(['notes.txt']);
    await notFound(['notes']);
  });

  it('does not serve a folder named like an MP3 file', async () => {
    await notFound(['x']);
  });

  it('does not serve a dangling symlink', async () => {
    await notFound(['dangling']);
  });

  it("does not serve a file in the root's look-alike sibling, even when '..' slips through", async () => {
    await notFound(['..', 'media-outside', 'secret']);
  });
});
