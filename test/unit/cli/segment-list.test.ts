// The warm list formats, the progress line and purge's cache-key match: pure code of the `segments` CLI.
import { describe, expect, it } from 'vitest';
import { isSegmentKeyOf } from '../../../src/cli/commands/purge.js';
import { progressLine } from '../../../src/cli/progress.js';
import { parseCsv, parseSegmentList } from '../../../src/cli/segment-list.js';
import { canonicalSegmentUrl } from '../../../src/segments/segment-url.js';

describe('parseCsv', () => {
  it('reads quoted fields with commas, doubled quotes and newlines; CRLF; skips blank lines', () => {
    expect(parseCsv('source,start,end\r\n"Show, part ""1""",1,2\r\n\r\n"a\nb",3,4')).toEqual([
      { line: 1, fields: ['source', 'start', 'end'] },
      { line: 2, fields: ['Show, part "1"', '1', '2'] },
      { line: 4, fields: ['a\nb', '3', '4'] },
    ]);
  });

  it.each([
    ['a,b"c"', /line 1: a quote inside an unquoted field/],
    ['"ab"c,1', /line 1: text after a closing quote/],
    ['x\n"open,1,2', /line 2: a quoted field is never closed/],
  ])('refuses %j clearly', (text, message) => {
    expect(() => parseCsv(text)).toThrow(message);
  });
});

describe('parseSegmentList', () => {
  it('CSV and JSON give the same canonical segments, parameters included', () => {
    const csv = parseSegmentList('source,start,end,mode,bitrate\ndemo/tones,010,20.50,,\nMy Show/ep 1.mp3,1,2,exact,64\n', 'l.csv');
    const json = parseSegmentList(
      ' [{"source":"demo/tones","start":10,"end":"20.5"},{"source":"My Show/ep 1","start":1,"end":2,"mode":"exact","bitrate":64}]',
      'l.json',
    );
    const urls = (list: typeof csv) => list.map(({ segment }) => canonicalSegmentUrl(segment));
    expect(urls(csv)).toEqual(['/segments/demo/tones/10-20.5.mp3', '/segments/My%20Show/ep%201/1-2.mp3?mode=exact&bitrate=64']);
    expect(urls(json)).toEqual(urls(csv));
    expect(csv.map(({ where }) => where)).toEqual(['line 2', 'line 3']);
  });

  it.each([
    ['', /^l: the list is empty/],
    ['source;start;end\ndemo/tones;1;2', /^l: line 1: unknown column 'source;start;end'; the header names source, start, end/],
    ['[{"source":"demo/tones","start":1,"end":2,"speed":3}]', /^l: item 1: unknown field 'speed'/],
    ['[{"source":"demo/tones","start":true,"end":2}]', /^l: item 1: 'start' must be a string or a number\./],
    ['[{"source":"demo/tones","start":1,"end":2,"bitrate":64}]', /^l: item 1: 'bitrate' applies only to mode=exact/],
  ])('%j is refused naming the row', (text, message) => {
    expect(() => parseSegmentList(text, 'l')).toThrow(message);
  });
});

describe('progressLine', () => {
  it('shows done, failed, rate and ETA; a bar only on a terminal', () => {
    expect(progressLine({ total: 40, done: 9, failed: 1 }, 4_000, true)).toBe(
      '[######------------------] 10/40  done 9  failed 1  2.5/s  ETA 12 s',
    );
    expect(progressLine({ total: 40, done: 40, failed: 0 }, 100_000, false)).toBe('40/40  done 40  failed 0  0.4/s  ETA 0 s');
    expect(progressLine({ total: 500, done: 10, failed: 0 }, 10_000, false)).toBe('10/500  done 10  failed 0  1.0/s  ETA 8 min 10 s');
    expect(progressLine({ total: 3, done: 0, failed: 0 }, 0, false)).toBe('0/3  done 0  failed 0  0.0/s  ETA ?');
  });
});

describe('isSegmentKeyOf (the nginx cache keys purge removes)', () => {
  it("takes every cached URI of the source's segments, and only those", () => {
    const of = (key: string) => isSegmentKeyOf('demo/tones', key);
    expect(of('/segments/demo/tones/10-20.mp3')).toBe(true);
    expect(of('/segments/demo/tones/010-20.mp3?mode=exact&sig=a/b')).toBe(true);
    expect(of('/segments/demo/tones/more/10-20.mp3')).toBe(false);
    expect(of('/segments/demo/tones2/10-20.mp3')).toBe(false);
    expect(of('/segments/demo/10-20.mp3')).toBe(false);
  });
});
