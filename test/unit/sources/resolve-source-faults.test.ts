// A source lookup that fails for a reason of the machine (no descriptor left, an I/O error of a network
// MEDIA_ROOT) is a passing 503, never "no such source": a 404 would be cached by clients and tell a
// listener that a file which exists is gone. The errors are the kernel's, raised here by a stand-in for
// node:fs/promises, since a test cannot make a real EIO on demand.
import { afterEach, describe, expect, it, vi } from 'vitest';

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, realpath '/media/demo/tones.mp3'`), { code });
}

async function resolveWith(realpathError: NodeJS.ErrnoException): Promise<unknown> {
  vi.resetModules();
  vi.doMock('node:fs/promises', async (importOriginal) => ({
    ...(await importOriginal<typeof import('node:fs/promises')>()),
    realpath: async () => {
      throw realpathError;
    },
  }));
  const { resolveSource } = await import('../../../src/sources/resolve-source.js');
  return resolveSource('/media', ['demo', 'tones']).catch((error: unknown) => error);
}

afterEach(() => {
  vi.doUnmock('node:fs/promises');
  vi.resetModules();
});

describe('a source lookup that fails', () => {
  it.each(['EMFILE', 'ENFILE', 'EIO', 'ENOMEM', 'ESTALE'])('with %s is a passing 503 naming no path', async (code) => {
    // Modules are loaded afresh for each stand-in: the error's class is that load's, so its fields are checked.
    const error = await resolveWith(errnoError(code));
    expect(error).toMatchObject({ status: 503, retryAfterSeconds: 5 });
    expect((error as { detail: string }).detail).not.toMatch(/\/media/);
  });

  it.each(['ENOENT', 'ENOTDIR', 'ELOOP'])('with %s is a 404: the source does not exist', async (code) => {
    expect(await resolveWith(errnoError(code))).toMatchObject({ status: 404, slug: 'source-not-found' });
  });
});
