import { describe, expect, it } from 'vitest';
import { buildRenderArguments } from '../../../src/render/render-args.js';
import type { RenderOptions } from '../../../src/render/render-spec.js';

const input = { file: 'in.mp3' };
/** A copy's last options: ffmpeg writes its Xing/Info header into the file. */
const tail = [
  '-map',
  '0:a:0',
  '-map_metadata',
  '0',
  '-map_chapters',
  '-1',
  '-id3v2_version',
  '3',
  '-write_xing',
  '1',
  '-fflags',
  '+bitexact',
  '-f',
  'mp3',
];
/** An exact render's: written into a pipe, behind the Info frame the pipeline computes, so ffmpeg writes none. */
const exactTail = tail.map((option, at) => (tail[at - 1] === '-write_xing' ? '0' : option));

function exact(change: Partial<Extract<RenderOptions, { mode: 'exact' }>> = {}): RenderOptions {
  return { mode: 'exact', bitrateKbps: 128, channels: null, fadeInMs: 0, fadeOutMs: 0, ...change };
}

describe('buildRenderArguments', () => {
  it('copies frames in copy mode, seeking in the input and cutting the length in the output', () => {
    expect(buildRenderArguments({ startMs: 754_500, endMs: 812_000, sampleRate: 44100, options: { mode: 'copy' } }, input)).toEqual({
      inputs: [{ url: 'in.mp3', options: ['-nostdin', '-hide_banner', '-ss', '754.500'] }],
      outputOptions: ['-c:a', 'copy', '-copypriorss', '0', '-t', '57.500', ...tail],
    });
  });

  it('opens a source on the HTTP origin with its options before the seek, so ffmpeg seeks by Range', () => {
    const remote = { file: 'http://10.0.0.5/media/show.mp3', openOptions: ['-headers', 'Host: media\r\n', '-rw_timeout', '1000000'] };
    expect(buildRenderArguments({ startMs: 1_000, endMs: 2_000, sampleRate: 44100, options: exact() }, remote).inputs).toEqual([
      {
        url: 'http://10.0.0.5/media/show.mp3',
        options: ['-nostdin', '-hide_banner', '-headers', 'Host: media\r\n', '-rw_timeout', '1000000', '-ss', '1.000'],
      },
    ]);
  });

  it('writes times as whole milliseconds without float noise', () => {
    expect(buildRenderArguments({ startMs: 100, endMs: 400, sampleRate: 44100, options: { mode: 'copy' } }, input)).toEqual({
      inputs: [{ url: 'in.mp3', options: ['-nostdin', '-hide_banner', '-ss', '0.100'] }],
      outputOptions: ['-c:a', 'copy', '-copypriorss', '0', '-t', '0.300', ...tail],
    });
  });

  it('asks a copy for at least two frames, since ffmpeg copies no frame at all for less', () => {
    // Two 1152-sample frames at 44.1 kHz are 52.25 ms; at 22.05 kHz two 576-sample frames are the same.
    expect(
      buildRenderArguments({ startMs: 50_000, endMs: 50_001, sampleRate: 44100, options: { mode: 'copy' } }, input).outputOptions.slice(
        0,
        6,
      ),
    ).toEqual(['-c:a', 'copy', '-copypriorss', '0', '-t', '0.053']);
    expect(
      buildRenderArguments({ startMs: 0, endMs: 10, sampleRate: 8000, options: { mode: 'copy' } }, input).outputOptions.slice(4, 6),
    ).toEqual(['-t', '0.144']);
  });

  it('counts an exact render in samples at the source rate, to the nearest sample', () => {
    expect(buildRenderArguments({ startMs: 0, endMs: 915, sampleRate: 22050, options: exact() }, input).outputOptions).toContain(
      'atrim=end_sample=20176',
    );
    expect(buildRenderArguments({ startMs: 5, endMs: 6, sampleRate: 8000, options: exact() }, input).outputOptions).toContain(
      'atrim=end_sample=8',
    );
  });

  it('re-encodes with libmp3lame at the default bit rate in exact mode', () => {
    expect(buildRenderArguments({ startMs: 0, endMs: 30_000, sampleRate: 44100, options: exact() }, input)).toEqual({
      inputs: [{ url: 'in.mp3', options: ['-nostdin', '-hide_banner', '-ss', '0.000'] }],
      outputOptions: ['-c:a', 'libmp3lame', '-b:a', '128k', '-af', 'atrim=end_sample=1323000', '-flags:a', '+bitexact', ...exactTail],
    });
  });

  it('sets the bit rate and the channel count when asked', () => {
    expect(
      buildRenderArguments({ startMs: 1_000, endMs: 2_000, sampleRate: 44100, options: exact({ bitrateKbps: 64, channels: 1 }) }, input),
    ).toEqual({
      inputs: [{ url: 'in.mp3', options: ['-nostdin', '-hide_banner', '-ss', '1.000'] }],
      outputOptions: [
        '-c:a',
        'libmp3lame',
        '-b:a',
        '64k',
        '-ac',
        '1',
        '-af',
        'atrim=end_sample=44100',
        '-flags:a',
        '+bitexact',
        ...exactTail,
      ],
    });
  });

  it('fades in from the segment start', () => {
    expect(
      buildRenderArguments({ startMs: 10_000, endMs: 20_000, sampleRate: 44100, options: exact({ fadeInMs: 1_500 }) }, input).outputOptions,
    ).toEqual([
      '-c:a',
      'libmp3lame',
      '-b:a',
      '128k',
      '-af',
      'atrim=end_sample=441000,afade=t=in:st=0:d=1.500',
      '-flags:a',
      '+bitexact',
      ...exactTail,
    ]);
  });

  it('fades out so that the fade ends with the segment', () => {
    expect(
      buildRenderArguments({ startMs: 10_000, endMs: 20_000, sampleRate: 44100, options: exact({ fadeOutMs: 2_250 }) }, input)
        .outputOptions,
    ).toEqual([
      '-c:a',
      'libmp3lame',
      '-b:a',
      '128k',
      '-af',
      'atrim=end_sample=441000,afade=t=out:st=7.750:d=2.250',
      '-flags:a',
      '+bitexact',
      ...exactTail,
    ]);
  });

  it('chains both fades in one filter, with every exact option', () => {
    expect(
      buildRenderArguments(
        {
          startMs: 60_000,
          endMs: 90_500,
          sampleRate: 44100,
          options: exact({ bitrateKbps: 320, channels: 2, fadeInMs: 500, fadeOutMs: 3_000 }),
        },
        input,
      ),
    ).toEqual({
      inputs: [{ url: 'in.mp3', options: ['-nostdin', '-hide_banner', '-ss', '60.000'] }],
      outputOptions: [
        '-c:a',
        'libmp3lame',
        '-b:a',
        '320k',
        '-ac',
        '2',
        // 30.5 s at 44.1 kHz is 1 345 050 samples.
        '-af',
        'atrim=end_sample=1345050,afade=t=in:st=0:d=0.500,afade=t=out:st=27.500:d=3.000',
        '-flags:a',
        '+bitexact',
        ...exactTail,
      ],
    });
  });

  it('copies byte ranges of the source when its frame index gives the cut: no seek, no length, its ID3v2 tag read from the ranges', () => {
    const cut = {
      firstFrame: 10,
      endFrame: 20,
      ranges: [
        [0, 300],
        [4_180, 8_360],
      ] as Array<[number, number]>,
      tailTags: false,
    };
    expect(
      buildRenderArguments({ startMs: 250, endMs: 500, sampleRate: 44100, options: { mode: 'copy' } }, { file: '/media/a,b:c.mp3', cut }),
    ).toEqual({
      inputs: [
        {
          url: 'concat:subfile,,start,0,end,300,,:file:/media/a,b:c.mp3|subfile,,start,4180,end,8360,,:file:/media/a,b:c.mp3',
          options: ['-nostdin', '-hide_banner'],
        },
      ],
      outputOptions: ['-c:a', 'copy', ...tail],
    });
  });

  it('reads a single byte range without concat', () => {
    const cut = { firstFrame: 10, endFrame: 20, ranges: [[4_180, 8_360]] as Array<[number, number]>, tailTags: false };
    expect(
      buildRenderArguments({ startMs: 250, endMs: 500, sampleRate: 44100, options: { mode: 'copy' } }, { file: '/m/a.mp3', cut }).inputs,
    ).toEqual([{ url: 'subfile,,start,4180,end,8360,,:file:/m/a.mp3', options: ['-nostdin', '-hide_banner'] }]);
  });

  it("takes the tags from the whole file (input 0) when tags follow the frames, which ffmpeg reads only at a file's end", () => {
    const cut = { firstFrame: 10, endFrame: 20, ranges: [[4_180, 8_360]] as Array<[number, number]>, tailTags: true };
    expect(
      buildRenderArguments({ startMs: 250, endMs: 500, sampleRate: 44100, options: { mode: 'copy' } }, { file: '/m/a.mp3', cut }),
    ).toEqual({
      inputs: [
        { url: '/m/a.mp3', options: ['-nostdin', '-hide_banner'] },
        { url: 'subfile,,start,4180,end,8360,,:file:/m/a.mp3', options: [] },
      ],
      outputOptions: ['-c:a', 'copy', '-map', '1:a:0', ...tail.slice(2)],
    });
  });

  it('decodes an indexed span from stdin in exact mode: named MP3, trimmed by sample count, its timestamps from 0 for the fades', () => {
    const span = { firstFrame: 7, endFrame: 13, ranges: [[0, 1_000] as [number, number]], startSample: 4_561, endSample: 6_865 };
    expect(
      buildRenderArguments(
        { startMs: 1_000, endMs: 1_052, sampleRate: 44100, options: exact({ fadeInMs: 10 }) },
        { file: '/m/a.mp3', span },
      ),
    ).toEqual({
      inputs: [{ url: 'pipe:0', options: ['-nostdin', '-hide_banner', '-f', 'mp3'] }],
      outputOptions: [
        '-c:a',
        'libmp3lame',
        '-b:a',
        '128k',
        '-af',
        'atrim=start_sample=4561:end_sample=6865,asetpts=PTS-STARTPTS,afade=t=in:st=0:d=0.010',
        '-flags:a',
        '+bitexact',
        ...exactTail,
      ],
    });
  });

  it('reads the tags from the tags file (input 0) and the span from stdin (input 1) when tags follow the frames', () => {
    const span = {
      firstFrame: 7,
      endFrame: 13,
      ranges: [[4_180, 6_688] as [number, number]],
      tags: [[0, 1_836] as [number, number], [42_000, 42_128] as [number, number]],
      startSample: 4_561,
      endSample: 6_865,
    };
    const spec = { startMs: 1_000, endMs: 1_052, sampleRate: 44100, options: exact() };
    const tagged = buildRenderArguments(spec, { file: '/m/a.mp3', span, tagsFile: '/store/.tmp/k:1.mp3.tags' });
    // As without tags after the frames (the test above), but for the tags input and the audio's input.
    const clean = buildRenderArguments(spec, { file: '/m/a.mp3', span: { ...span, tags: undefined } });
    expect(tagged.inputs).toEqual([
      { url: 'file:/store/.tmp/k:1.mp3.tags', options: ['-nostdin', '-hide_banner', '-f', 'mp3'] },
      ...clean.inputs,
    ]);
    const mapAt = clean.outputOptions.indexOf('-map') + 1;
    expect(clean.outputOptions[mapAt]).toBe('0:a:0');
    expect(tagged.outputOptions).toEqual(clean.outputOptions.map((option, at) => (at === mapAt ? '1:a:0' : option)));
    expect(() => buildRenderArguments(spec, { file: '/m/a.mp3', span })).toThrow(/tags file/);
  });

  it('ignores a span in copy mode', () => {
    const span = { firstFrame: 7, endFrame: 13, ranges: [[0, 1_000] as [number, number]], startSample: 4_561, endSample: 6_865 };
    const copy = { startMs: 1_000, endMs: 1_052, sampleRate: 44100, options: { mode: 'copy' as const } };
    expect(buildRenderArguments(copy, { file: 'in.mp3', span })).toEqual(buildRenderArguments(copy, input));
  });

  it('ignores a cut in exact mode, which decodes from an accurate seek', () => {
    const cut = { firstFrame: 10, endFrame: 20, ranges: [[4_180, 8_360]] as Array<[number, number]>, tailTags: false };
    expect(buildRenderArguments({ startMs: 0, endMs: 30_000, sampleRate: 44100, options: exact() }, { file: 'in.mp3', cut })).toEqual(
      buildRenderArguments({ startMs: 0, endMs: 30_000, sampleRate: 44100, options: exact() }, input),
    );
  });
});
