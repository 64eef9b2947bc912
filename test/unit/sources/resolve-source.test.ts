import { lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
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
      path: ['a'],
      file: path.join(root, 'a.mp3'),
      size: 5,
      mtimeMs: Math.trunc(facts.mtimeMs),
    });
  });

  it('resolves a file in a subfolder, keeping the path it was asked by', async () => {
    expect(await resolveSource(root, ['sub', 'b'])).toMatchObject({ path: ['sub', 'b'], file: path.join(root, 'sub', 'b.mp3'), size: 6 });
  });

  it('finds a source with spaces, parentheses and accents in its name, keeping its decoded path', async () => {
    expect(await resolveSource(root, ['my show (live) café'])).toMatchObject({
      path: ['my show (live) café'],
      file: path.join(root, 'my show (live) café.mp3'),
    });
  });

  it('follows a symlink that stays inside the root to its real file', async () => {
    expect(await resolveSource(root, ['alias'])).toMatchObject({ path: ['alias'], file: path.join(root, 'a.mp3'), size: 5 });
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

  it('does not serve a file that is not .mp3 through an .mp3 symlink to it', async () => {
    // The link is there and leads to a real, readable regular file inside the root: only the check of the
    // real path's extension refuses it.
    expect((await lstat(path.join(root, 'notes.mp3'))).isSymbolicLink()).toBe(true);
    expect((await stat(path.join(root, 'notes.mp3'))).isFile()).toBe(true);
    expect((await notFound(['notes'])).detail).toBe("There is no source 'notes': no file notes.mp3 below the media root.");
  });

  it("looks for the name plus .mp3 even when the name ends in another extension: 'notes.txt' is not notes.txt", async () => {
    expect((await stat(path.join(root, 'notes.txt'))).isFile()).toBe(true);
    expect((await notFound(['notes.txt'])).detail).toBe("There is no source 'notes.txt': no file notes.txt.mp3 below the media root.");
  });

  it('does not serve a folder named like an MP3 file', async () => {
    // It exists, inside the root, with the right extension: only the regular-file check refuses it.
    expect((await lstat(path.join(root, 'x.mp3'))).isDirectory()).toBe(true);
    expect((await notFound(['x'])).detail).toBe("There is no source 'x': no file x.mp3 below the media root.");
  });

  it('does not serve a dangling symlink', async () => {
    await notFound(['dangling']);
  });

  it("does not serve a file in the root's look-alike sibling, even when '..' slips through", async () => {
    await notFound(['..', 'media-outside', 'secret']);
  });
});
