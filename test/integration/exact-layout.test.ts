// The Info frame an exact render is streamed behind is computed before LAME encodes a byte
// (render/exact-layout.ts). Proved here against what ffmpeg itself writes when it may seek back to its
// header at the end (the same arguments, into a seekable file), on the real pipeline and the real
// bundled ffmpeg, at every MPEG version, sample rate family, mono and stereo, several bit rates and
// lengths: the same audio frames byte for byte, ffmpeg's frame count and delay, the padding that makes
// the gapless length the asked one, a byte count the file holds exactly, the stream's own bit rate; and
// two decoders play exactly the asked samples (mpg123, which is not the service's, and ffmpeg's).
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { createMediaTools, type MediaTools } from '../../src/media/ffmpeg.js';
import { createFrameIndexes } from '../../src/render/frame-indexes.js';
import { localReaders } from '../../src/media/source-reader.js';
import { buildRenderArguments } from '../../src/render/render-args.js';
import { renderChecked } from '../../src/render/render-pipeline.js';
import { exactSampleCount, type RenderSpec } from '../../src/render/render-spec.js';
import { spanStream, writeSpanTags } from '../../src/render/span-stream.js';
import { ffmpegSamples, gaplessSamples } from '../helpers/decoders.js';
import { readMp3 } from '../helpers/mp3-frames.js';

let media: MediaTools;
let dir: string;
beforeAll(async () => {
  media = await createMediaTools();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-exact-layout-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A corpus source of each sample rate family; the channels and bit rates asked of it. */
const cases = [
  { source: 'mpeg25-8k-8-mono', sampleRate: 8000, bitrateKbps: 8, channels: null },
  { source: 'mpeg25-11k-32-stereo', sampleRate: 11025, bitrateKbps: 24, channels: null },
  { source: 'mpeg25-12k-64-joint', sampleRate: 12000, bitrateKbps: 64, channels: 1 },
  { source: 'mpeg2-16k-32-mono', sampleRate: 16000, bitrateKbps: 40, channels: 2 },
  { source: 'mpeg2-22k-64-stereo', sampleRate: 22050, bitrateKbps: 64, channels: null },
  { source: 'mpeg2-24k-160-joint', sampleRate: 24000, bitrateKbps: 160, channels: null },
  { source: 'cbr-32k-64-mono-noxing', sampleRate: 32000, bitrateKbps: 56, channels: null },
  { source: 'cbr-44k-128-stereo', sampleRate: 44100, bitrateKbps: 128, channels: null },
  { source: 'vbr-44k-q4-joint', sampleRate: 44100, bitrateKbps: 96, channels: 1 },
  { source: 'cbr-48k-320-stereo', sampleRate: 48000, bitrateKbps: 320, channels: null },
  // ID3v1 and APE after the frames: the render's tags come from a tags file (decode-span.ts).
  { source: 'ape-id3v1-tail', sampleRate: 22050, bitrateKbps: 32, channels: null },
] as const;
/** A tiny ask, one that ends a sample short of a frame boundary's neighbourhood, and a longer one. */
const spans = [
  [500, 520],
  [1_234, 3_987],
  [0, 4_000],
];

const rows = cases.flatMap((c) => spans.map(([startMs, endMs]) => ({ ...c, startMs: startMs!, endMs: endMs! })));

describe('an exact render’s Info frame, written before encoding', () => {
  it.each(rows)(
    '$source at $bitrateKbps kbps, channels $channels, $startMs-$endMs ms: as ffmpeg would write it, and exact',
    async (row) => {
      const file = path.join(PROJECT_ROOT, 'fixtures', 'corpus', `${row.source}.mp3`);
      const facts = await stat(file);
      const spec: RenderSpec = {
        startMs: row.startMs,
        endMs: row.endMs,
        sampleRate: row.sampleRate,
        options: { mode: 'exact', bitrateKbps: row.bitrateKbps, channels: row.channels, fadeInMs: 0, fadeOutMs: 0 },
      };
      const ours = path.join(dir, `${row.source}-${row.bitrateKbps}-${row.startMs}-ours.mp3`);
      const tools = { media, renderTimeoutMs: 60_000, frameIndexes: createFrameIndexes({ maxBytes: 1 << 20 }) };
      const source = { file, size: facts.size, mtimeMs: facts.mtimeMs };
      await renderChecked(tools, source, ours, spec, pino({ level: 'silent' }));

      // ffmpeg's own: the same arguments (and the same span of the source: decode-span.ts) into a seekable
      // file, where it writes its Xing/Info header at the end.
      const span = await tools.frameIndexes.spanFor(source, spec);
      const tagsFile = span?.tags ? path.join(dir, `${row.source}-${row.startMs}.tags`) : undefined;
      if (span && tagsFile) await writeSpanTags(localReaders, source, span, tagsFile);
      const args = buildRenderArguments(spec, { file, span, tagsFile });
      const xingAt = args.outputOptions.indexOf('-write_xing');
      args.outputOptions[xingAt + 1] = '1';
      const theirs = path.join(dir, `${row.source}-${row.bitrateKbps}-${row.startMs}-ffmpeg.mp3`);
      await media.render(theirs, args, { timeoutMs: 60_000 }, span ? spanStream(localReaders, source, span) : undefined);

      const [mine, ffmpegs] = [readMp3(await readFile(ours)), readMp3(await readFile(theirs))];
      const audio = (read: typeof mine) => read.bytes.subarray(read.audioFrames[0]!.offset);
      expect(audio(mine).equals(audio(ffmpegs))).toBe(true);
      expect(mine.info!.frames).toBe(ffmpegs.info!.frames);
      expect(mine.info!.frames).toBe(mine.audioFrames.length);
      expect(mine.info!.lame!.delay).toBe(ffmpegs.info!.lame!.delay);
      const samples = exactSampleCount(spec);
      expect(mine.info!.lame!.padding).toBe(mine.audioFrames.length * mine.samplesPerFrame - mine.info!.lame!.delay - samples);
      // The length the answer states before the bytes exist: the file holds exactly that.
      expect(mine.id3v2Bytes + mine.info!.bytes!).toBe(mine.bytes.length);
      expect(mine.infoFrame!.bitrateKbps).toBe(mine.audioFrames[0]!.bitrateKbps);

      const channels = mine.channels;
      expect(await gaplessSamples(ours, channels)).toBe(samples);
      expect(await ffmpegSamples(ours, channels)).toBe(samples);
    },
  );
});
