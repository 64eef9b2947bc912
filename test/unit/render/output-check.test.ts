// The output check (src/render/output-check.ts) on real files: a render it cannot read is a system error,
// a passing fault, never a 422 about the source (issue 14).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemErrorCode } from '../../../src/media/fault-kind.js';
import { checkOutput } from '../../../src/render/output-check.js';
import { RenderFailed } from '../../../src/render/render-failure.js';
import type { RenderSpec } from '../../../src/render/render-spec.js';

const spec: RenderSpec = { startMs: 0, endMs: 1_000, sampleRate: 44_100, options: { mode: 'copy' } };

describe('the output check', () => {
  it('a render that cannot be read (EISDIR here; EIO, EMFILE in production) fails as that system error, not as a 422', async () => {
    const error = await checkOutput(os.tmpdir(), spec).catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(RenderFailed);
    expect(systemErrorCode(error)).toBe('EISDIR');
  });

  it('a render that is read and is no MP3 is a permanent 422', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'output-check-'));
    const file = path.join(dir, 'junk.mp3');
    await writeFile(file, Buffer.alloc(4_000, 0x5a));
    const error = await checkOutput(file, spec)
      .catch((e: unknown) => e)
      .finally(() => rm(dir, { recursive: true, force: true }));
    expect(error).toBeInstanceOf(RenderFailed);
    expect((error as RenderFailed).failure).toMatchObject({ status: 422, permanent: true });
  });
});
