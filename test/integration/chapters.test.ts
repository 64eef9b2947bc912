// A source's ID3v2 chapters (CHAP and CTOC frames, as podcasts carry them) give times in the whole
// source: copied into a segment they would point past its end or at the wrong place. A segment keeps none,
// in either mode, with or without tags after the source's frames (an exact render then reads its tags
// from a tags file: decode-span.ts).
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { createMediaTools, type MediaTools } from '../../src/media/ffmpeg.js';
import { id3v2Length } from '../../src/media/mp3-frame.js';
import { createFrameIndexes } from '../../src/render/frame-indexes.js';
import { renderChecked } from '../../src/render/render-pipeline.js';
import type { RenderOptions, RenderSpec } from '../../src/render/render-spec.js';

const run = promisify(execFile);
let media: MediaTools;
let dir: string;
/** demo/tones with three chapters, and the same with an ID3v1 tag after its frames. */
let chaptered: string;
let chapteredTail: string;

/** The frame ids in a file's ID3v2 tag (v2.3/v2.4: 10-byte frame headers after the 10-byte tag header). */
function id3v2FrameIds(bytes: Buffer): string[] {
  const end = Math.min(bytes.length, id3v2Length(bytes));
  const ids: string[] = [];
  for (let at = 10; at + 10 <= end; ) {
    const id = bytes.toString('latin1', at, at + 4);
    if (!/^[A-Z0-9]{4}$/.test(id)) break;
    const size = bytes.readUInt32BE(at + 4);
    ids.push(id);
    at += 10 + size;
  }
  return ids;
}

beforeAll(async () => {
  media = await createMediaTools();
  dir = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-chapters-'));
  const metadata = path.join(dir, 'chapters.txt');
  await writeFile(
    metadata,
    [
      ';FFMETADATA1',
      'title=Chaptered',
      ...[0, 4, 8].flatMap((s, i) => ['[CHAPTER]', 'TIMEBASE=1/1000', `START=${s * 1000}`, `END=${(s + 4) * 1000}`, `title=Part ${i + 1}`]),
    ].join('\n'),
  );
  chaptered = path.join(dir, 'chaptered.mp3');
  const source = path.join(PROJECT_ROOT, 'fixtures', 'media', 'demo', 'tones.mp3');
  await run(ffmpegInstaller.path, [
    '-v',
    'error',
    '-i',
    source,
    '-i',
    metadata,
    '-map',
    '0:a',
    '-map_metadata',
    '1',
    '-map_chapters',
    '1',
    '-c',
    'copy',
    '-id3v2_version',
    '3',
    chaptered,
  ]);
  chapteredTail = path.join(dir, 'chaptered-tail.mp3');
  // An ID3v1 tag after the frames: 'TAG', then title, artist, album, year, comment, genre (128 bytes).
  const id3v1 = Buffer.alloc(128);
  id3v1.write('TAGTail title', 'latin1');
  await writeFile(chapteredTail, await readFile(chaptered));
  await appendFile(chapteredTail, id3v1);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const modes: Array<{ name: string; options: RenderOptions }> = [
  { name: 'copy', options: { mode: 'copy' } },
  { name: 'exact', options: { mode: 'exact', bitrateKbps: 96, channels: null, fadeInMs: 0, fadeOutMs: 0 } },
];

describe('a source with ID3v2 chapters', () => {
  it('carries CHAP frames, one per chapter (else this test proves nothing)', async () => {
    const ids = id3v2FrameIds(await readFile(chaptered));
    expect(ids.filter((id) => id === 'CHAP')).toHaveLength(3);
  });

  for (const tail of [false, true]) {
    for (const { name, options } of modes) {
      it(`${tail ? 'with an ID3v1 tag after its frames, ' : ''}a ${name} segment keeps its text tags and none of its chapters`, async () => {
        const file = tail ? chapteredTail : chaptered;
        const facts = await stat(file);
        const spec: RenderSpec = { startMs: 5_000, endMs: 7_500, sampleRate: 44_100, options };
        const output = path.join(dir, `${name}-${tail}.mp3`);
        const tools = { media, renderTimeoutMs: 60_000, frameIndexes: createFrameIndexes({ maxBytes: 1 << 20 }) };
        await renderChecked(tools, { file, size: facts.size, mtimeMs: facts.mtimeMs }, output, spec, pino({ level: 'silent' }));
        const ids = id3v2FrameIds(await readFile(output));
        expect(ids).toContain('TIT2');
        expect(ids.filter((id) => id === 'CHAP' || id === 'CTOC')).toEqual([]);
      });
    }
  }
});
