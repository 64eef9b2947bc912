// A render put into a real store the way a worker puts it (a temp file, then publish), with facts a test can vary.
import { writeFile } from 'node:fs/promises';
import type { RenderMetadata, RenderStore } from '../../src/store/render-store.js';

/** The facts of a copy render of demo/tones, `bytes` long. */
export function renderFacts(key: string, bytes: number, overrides: Partial<RenderMetadata> = {}): RenderMetadata {
  return {
    key,
    source: 'demo/tones',
    startMs: 0,
    endMs: 1000,
    mode: 'copy',
    bytes,
    durationSeconds: 1,
    renderedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** Publishes `content` (by default `facts.bytes` bytes of 1s) under `facts`. */
export async function putRender(store: RenderStore, facts: RenderMetadata, content = Buffer.alloc(facts.bytes, 1)): Promise<void> {
  const temp = await store.tempPathFor(facts.key);
  await writeFile(temp, content);
  await store.publish(temp, facts);
}
