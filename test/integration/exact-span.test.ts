// An exact render of an indexed source decodes only its span (media/decode-span.ts): the frames holding
// the asked samples and those priming the decoder. Proved on every clean corpus source at asks at the start,
// inside, and to the end: the samples ffmpeg hands LAME (the render's own arguments, with PCM written
// instead of MP3) are exactly those of ffmpeg's decode of the whole file, and at least as close to mpg123's
// decode of the whole file (not the service's decoder) as that decode is. ffmpeg's own seek, still used for
// sources the index refuses, starts its decoder cold and is printed beside it for comparison. Sources with
// tags after their frames (ID3v1, APE) take the span too, their tags from a small tags file: the renders'
// ID3v2 tags are byte for byte those ffmpeg writes from its seek on the whole file.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { createMediaTools, type FfmpegArguments, type MediaTools } from '../../src/media/ffmpeg.js';
import { hasTailTags, readFrameIndex } from '../../src/media/frame-index.js';
import { gaplessDurationMs } from '../../src/media/sample-cut.js';
import type { SourceFile } from '../../src/media/source-file.js';
import { localReaders } from '../../src/media/source-reader.js';
import { createFrameIndexes } from '../../src/render/frame-indexes.js';
import { buildRenderArguments, type RenderInput } from '../../src/render/render-args.js';
import { exactSampleCount, type RenderSpec } from '../../src/render/render-spec.js';
import { spanStream, writeSpanTags } from '../../src/render/span-stream.js';
import { decodePcm } from '../helpers/decoders.js';

const corpus = path.join(PROJECT_ROOT, 'fixtures', 'corpus');
const sources = (await readdir(corpus)).filter((name) => name.endsWith('.mp3')).sort();

let media: MediaTools;
let dir: string;
const figures: string[] = [];
beforeAll(async () => {
  media = await createMediaTools();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-exact-span-'));
});
afterAll(async () => {
  console.log(`max |sample − mpg123's whole decode| (cold seek → span):\n${figures.join('\n')}`);
  await rm(dir, { recursive: true, force: true });
});

/** The PCM ffmpeg hands LAME for `spec` from `input`: the render's own arguments, writing 16-bit PCM instead. */
async function encoderInput(spec: RenderSpec, source: SourceFile, input: RenderInput, name: string): Promise<Int16Array> {
  const output = path.join(dir, `${name}.pcm`);
  await render(
    source,
    input,
    output,
    (args) => {
      const filters = args.outputOptions[args.outputOptions.indexOf('-af') + 1]!;
      const map = args.outputOptions.slice(args.outputOptions.indexOf('-map'), args.outputOptions.indexOf('-map') + 2);
      return { inputs: args.inputs, outputOptions: [...map, '-af', filters, '-c:a', 'pcm_s16le', '-f', 's16le'] };
    },
    spec,
  );
  const bytes = await readFile(output);
  return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
}

/** Runs the render's arguments for `spec` from `input` (changed by `change`) into `output`, as the pipeline does. */
async function render(
  source: SourceFile,
  input: RenderInput,
  output: string,
  change: (args: FfmpegArguments) => FfmpegArguments,
  spec: RenderSpec,
): Promise<void> {
  const tagsFile = input.span?.tags ? `${output}.tags` : undefined;
  if (input.span && tagsFile) await writeSpanTags(localReaders, source, input.span, tagsFile);
  const stdin = input.span ? spanStream(localReaders, source, input.span) : undefined;
  await media.render(output, change(buildRenderArguments(spec, { ...input, tagsFile })), { timeoutMs: 60_000 }, stdin);
}

/** The ID3v2 tag at the start of an MP3 file (none: empty). */
function id3v2Tag(bytes: Buffer): Buffer {
  if (bytes.toString('latin1', 0, 3) !== 'ID3') return Buffer.alloc(0);
  const size = ((bytes[6]! & 127) << 21) | ((bytes[7]! & 127) << 14) | ((bytes[8]! & 127) << 7) | (bytes[9]! & 127);
  return bytes.subarray(0, 10 + size);
}

const tagsSpec: RenderSpec = {
  startMs: 0,
  endMs: 0,
  sampleRate: 0,
  options: { mode: 'exact', bitrateKbps: 64, channels: null, fadeInMs: 0, fadeOutMs: 0 },
};

function maxDifference(a: Int16Array, b: Int16Array): number {
  expect(a.length).toBe(b.length);
  let most = 0;
  for (let i = 0; i < a.length; i += 1) most = Math.max(most, Math.abs(a[i]! - b[i]!));
  return most;
}

describe('an exact render decodes only its span, and gets the whole decode’s samples', () => {
  it.each(sources)('%s', async (name) => {
    const file = path.join(corpus, name);
    const index = await readFrameIndex(file);
    const facts = await stat(file);
    const source: SourceFile = { file, size: facts.size, mtimeMs: facts.mtimeMs };
    const frameIndexes = createFrameIndexes({ maxBytes: 1 << 24 });
    const durationMs = index ? gaplessDurationMs(index) : 0;
    const asks: Array<[number, number]> = [
      [0, 1_500],
      [1_001, 2_500],
      [Math.floor(durationMs / 2), Math.floor(durationMs / 2) + 1_234],
      [durationMs - 777, durationMs],
    ];
    const span = await frameIndexes.spanFor(source, {
      startMs: 0,
      endMs: 1_500,
      sampleRate: index?.sampleRate ?? 0,
      options: { mode: 'exact', bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 0 },
    });
    if (!index || !span) {
      // Not a clean chain: ffmpeg's own seek (frame-indexes.ts spanFor).
      expect(index, name).toBeNull();
      return;
    }
    expect(span.tags !== undefined, `${name}: a tags file exactly when tags follow the frames`).toBe(hasTailTags(index));
    const bytesPerSample = 2 * index.channels;
    const windows = asks.map(([startMs, endMs]): [number, number] => {
      const first = Math.round((startMs * index.sampleRate) / 1000);
      return [first * bytesPerSample, (first + Math.round(((endMs - startMs) * index.sampleRate) / 1000)) * bytesPerSample];
    });
    const [whole, mpg123] = await Promise.all([decodePcm(file, 'ffmpeg', windows), decodePcm(file, 'mpg123', windows)]);
    const worst = { seek: 0, span: 0, whole: 0 };
    for (const [at, [startMs, endMs]] of asks.entries()) {
      const spec: RenderSpec = {
        startMs,
        endMs,
        sampleRate: index.sampleRate,
        options: { mode: 'exact', bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 0 },
      };
      const tag = `${name}-${startMs}`;
      const decoded = await encoderInput(spec, source, { file, span: await frameIndexes.spanFor(source, spec) }, `${tag}-span`);
      expect(decoded.length / index.channels, `${tag}: samples`).toBe(exactSampleCount(spec));
      expect(maxDifference(decoded, whole.parts[at]!), `${tag}: against ffmpeg's whole decode`).toBe(0);
      const seek = await encoderInput(spec, source, { file }, `${tag}-seek`);
      worst.seek = Math.max(worst.seek, maxDifference(seek, mpg123.parts[at]!));
      worst.span = Math.max(worst.span, maxDifference(decoded, mpg123.parts[at]!));
      worst.whole = Math.max(worst.whole, maxDifference(whole.parts[at]!, mpg123.parts[at]!));
    }
    expect(worst.span, name).toBeLessThanOrEqual(worst.whole);
    // The render's tags: what ffmpeg writes from its seek on the whole file (ID3v1/APE fields included).
    const [startMs, endMs] = asks[2]!;
    const spec: RenderSpec = { ...tagsSpec, startMs, endMs, sampleRate: index.sampleRate };
    const mp3 = (args: FfmpegArguments) => args;
    await render(source, { file, span: await frameIndexes.spanFor(source, spec) }, path.join(dir, `${name}-span.mp3`), mp3, spec);
    await render(source, { file }, path.join(dir, `${name}-seek.mp3`), mp3, spec);
    const spanTags = id3v2Tag(await readFile(path.join(dir, `${name}-span.mp3`)));
    const seekTags = id3v2Tag(await readFile(path.join(dir, `${name}-seek.mp3`)));
    expect(spanTags.toString('latin1'), `${name}: tags`).toBe(seekTags.toString('latin1'));
    figures.push(
      `  ${name}: ${worst.seek} → ${worst.span} (ffmpeg's whole decode: ${worst.whole}); ID3v2 ${spanTags.length} bytes, as the seek's`,
    );
  });
});
