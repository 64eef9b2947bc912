// A corpus file copied into a test's own folder, as the media code sees a source (path, size, mtime).
import { copyFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.js';
import type { SourceFile } from '../../src/media/source-file.js';

export const corpusFile = (name: string) => path.join(PROJECT_ROOT, 'fixtures', 'corpus', name);

export async function copyOfCorpus(dir: string, name: string, from: string): Promise<SourceFile> {
  const file = path.join(dir, name);
  await copyFile(corpusFile(from), file);
  const facts = await stat(file);
  return { file, size: facts.size, mtimeMs: Math.trunc(facts.mtimeMs) };
}
