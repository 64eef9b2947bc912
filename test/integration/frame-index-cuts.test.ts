// A copy cut by the frame index keeps exactly the frames, and the tags, that ffmpeg's own accurate seek
// keeps: both commands run on every clean corpus source, at fixed pseudo-random cuts (some from the very
// start, some to the very end, some two frames short), and their outputs are compared with the oracle's
// frame parser (test/helpers/mp3-frames.ts), not the service's.
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { createMediaTools, type MediaTools } from '../../src/media/ffmpeg.js';
import { cutFrames, readFrameIndex } from '../../src/media/frame-index.js';
import { buildRenderArguments } from '../../src/render/render-args.js';
import { copyLengthMs, type RenderSpec } from '../../src/render/render-spec.js';
import { frameBytes, readMp3 } from '../helpers/mp3-frames.js';

const corpus = path.join(PROJECT_ROOT, 'fixtures', 'corpus');
let media: MediaTools;
let dir: string;
beforeAll(async () => {
  media = await createMediaTools();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-cuts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sources = (await readdir(corpus, { recursive: true })).filter((name) => name.endsWith('.mp3') && !name.startsWith('broken'));

/** Cuts (ms) over a source of `durationMs`: deterministic, so a failure names a cut that can be rerun. */
function cutsOver(durationMs: number): Array<[number, number]> {
  let seed = 12_345;
  const next = () => {
    seed = (seed * 48_271) % 2_147_483_647;
    return seed / 2_147_483_647;
  };
  const random = Array.from({ length: 5 }, () => {
    const startMs = Math.floor(next() * durationMs * 0.9);
    return [startMs, Math.min(durationMs, startMs + 1 + Math.floor(next() * 6_000))] as [number, number];
  });
  return [[0, 1_500], [Math.floor(durationMs / 2), Math.floor(durationMs / 2) + 1], [Math.floor(durationMs * 0.6), durationMs], ...random];
}

async function audioAndTags(file: string) {
  const mp3 = readMp3(await readFile(file));
  return {
    tags: mp3.bytes.subarray(0, mp3.id3v2Bytes),
    audio: Buffer.concat(mp3.audioFrames.map((frame) => frameBytes(mp3, frame))),
    frames: mp3.audioFrames.length,
  };
}

describe('copies cut by the frame index', () => {
  it.each(sources)('%s: the same audio frames and tags as ffmpeg seeking by itself', async (name) => {
    const file = path.join(corpus, name);
    const index = await readFrameIndex(file);
    expect(index).not.toBeNull();
    const durationMs = Math.floor((index!.frames * index!.samplesPerFrame * 1000) / index!.sampleRate);
    for (const [startMs, endMs] of cutsOver(durationMs)) {
      const spec: RenderSpec = { startMs, endMs, options: { mode: 'copy' }, sampleRate: index!.sampleRate };
      const cut = cutFrames(index!, startMs, copyLengthMs(spec));
      const seeked = path.join(dir, 'seeked.mp3');
      const byIndex = path.join(dir, 'by-index.mp3');
      await media.render(seeked, buildRenderArguments(spec, { file }), { timeoutMs: 30_000 });
      await media.render(byIndex, buildRenderArguments(spec, { file, cut }), { timeoutMs: 30_000 });
      const [expected, got] = await Promise.all([audioAndTags(seeked), audioAndTags(byIndex)]);
      expect(got.frames, `${startMs}-${endMs} ms`).toBe(expected.frames);
      expect(got.frames, `${startMs}-${endMs} ms`).toBeGreaterThanOrEqual(2);
      expect(got.audio.equals(expected.audio), `${startMs}-${endMs} ms: audio frames`).toBe(true);
      expect(got.tags.equals(expected.tags), `${startMs}-${endMs} ms: ID3v2 tag`).toBe(true);
    }
  });
});
