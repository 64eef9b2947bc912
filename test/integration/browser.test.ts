// A real player: headless Chromium opens the clip picker through nginx, asks for segments of a CBR and a VBR
// (MPEG-2) source in both modes, and its <audio> element must read the asked duration, seek with a Range
// request answered 206, and play, with no media error; its decodeAudioData gives a sample cut's exact count.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium, startStackAndBrowser, type TestBrowser } from '../helpers/chromium.js';
import type { TestStack } from '../helpers/test-stack.js';

let t: TestStack | undefined;
let chrome: TestBrowser | undefined;
let stop: (() => Promise<void>) | undefined;

// On a machine without Chromium, apt-get may need minutes; only this hook gets that long.
beforeAll(() => void ensureChromium(), 600_000);

beforeAll(async () => {
  ({ t, chrome, stop } = await startStackAndBrowser({ corpus: true }));
});

afterAll(async () => {
  await stop?.();
});

/** What the page's window carries for the test: the media events its <audio> element fired. */
type PlayerWindow = Window & { mediaEvents: string[] };

interface SegmentResponse {
  path: string;
  status: number;
  range: string | undefined;
}

/**
 * Opens the clip picker through nginx, recording every segment answer the browser gets (status, Range asked)
 * and every console error (a CSP refusal of the page's own inline code would show up there).
 */
async function openDemoPage(): Promise<{ page: Page; responses: Promise<SegmentResponse>[]; consoleErrors: string[] }> {
  const page = await chrome!.context.newPage();
  const responses: Promise<SegmentResponse>[] = [];
  const consoleErrors: string[] = [];
  page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/segments/')) return;
    responses.push(
      response
        .request()
        .allHeaders()
        .then((headers) => ({ path: url.pathname + url.search, status: response.status(), range: headers.range })),
    );
  });
  await page.goto(`${t!.url}/`);
  // The page sets data-ready once GET /sources has filled the source picker.
  await page.waitForSelector('body[data-ready="true"]');
  return { page, responses, consoleErrors };
}

describe('the clip picker through nginx', () => {
  it('is served uncached, and GET /sources lists the demo media and the broken files', async () => {
    const page = await fetch(`${t!.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('x-cache-status')).toBe('BYPASS');
    expect(page.headers.get('cache-control')).toBe('no-store');
    const body = (await (await fetch(`${t!.url}/sources`)).json()) as {
      sources: { source: string; durationSeconds?: number; error?: string }[];
    };
    const byName = new Map(body.sources.map((entry) => [entry.source, entry]));
    // 90 s and 60 s of audio (how encoder padding is counted moves the last digits).
    expect(Math.abs((byName.get('demo/tones')?.durationSeconds ?? 0) - 90)).toBeLessThanOrEqual(0.1);
    expect(Math.abs((byName.get('demo/talk')?.durationSeconds ?? 0) - 60)).toBeLessThanOrEqual(0.1);
    expect(byName.get('bad/not-audio')?.error).toMatch(/not a decodable MP3 file/);
    expect(byName.get('bad/empty')?.error).toMatch(/it is empty/);
  });
});

const cases = [
  { source: 'demo/tones', kind: 'CBR 44.1 kHz', mode: 'copy', start: '10', end: '16', path: '/segments/demo/tones/10-16.mp3' },
  {
    source: 'demo/tones',
    kind: 'CBR 44.1 kHz',
    mode: 'exact',
    start: '20.5',
    end: '26.75',
    path: '/segments/demo/tones/20.5-26.75.mp3?mode=exact',
  },
  { source: 'demo/talk', kind: 'VBR MPEG-2 22.05 kHz', mode: 'copy', start: '5', end: '11.5', path: '/segments/demo/talk/5-11.5.mp3' },
  {
    source: 'demo/talk',
    kind: 'VBR MPEG-2 22.05 kHz',
    mode: 'exact',
    start: '030.250',
    end: '36',
    path: '/segments/demo/talk/30.25-36.mp3?mode=exact',
  },
  {
    source: 'corpus/mpeg2-22k-64-stereo',
    kind: 'CBR MPEG-2 22.05 kHz',
    mode: 'copy',
    start: '1',
    end: '6.5',
    path: '/segments/corpus/mpeg2-22k-64-stereo/1-6.5.mp3',
  },
  {
    source: 'corpus/mpeg2-22k-64-stereo',
    kind: 'CBR MPEG-2 22.05 kHz',
    mode: 'exact',
    start: '2.25',
    end: '7',
    path: '/segments/corpus/mpeg2-22k-64-stereo/2.25-7.mp3?mode=exact',
  },
  {
    source: 'corpus/vbr-44k-q4-joint',
    kind: 'VBR MPEG-1 44.1 kHz',
    mode: 'copy',
    start: '3',
    end: '9',
    path: '/segments/corpus/vbr-44k-q4-joint/3-9.mp3',
  },
  {
    source: 'corpus/vbr-44k-q4-joint',
    kind: 'VBR MPEG-1 44.1 kHz',
    mode: 'exact',
    start: '0.5',
    end: '6',
    path: '/segments/corpus/vbr-44k-q4-joint/0.5-6.mp3?mode=exact',
  },
];

describe('Chromium plays segments picked on the clip picker', () => {
  it.each(cases)('$source ($kind), $mode mode: duration as asked, a 206 Range answer, seeks and plays', async (c) => {
    const asked = Number(c.end) - Number(c.start);
    const { page, responses, consoleErrors } = await openDemoPage();
    try {
      await page.selectOption('#source', c.source);
      // Typed times take effect on Enter, as a person commits them.
      await page.fill('#start', c.start);
      await page.press('#start', 'Enter');
      await page.fill('#end', c.end);
      await page.press('#end', 'Enter');
      await page.selectOption('#mode', c.mode);
      // The canonical URL, whatever the spelling typed ('030.250'): the player never meets a 308.
      expect(await page.inputValue('#url')).toBe(t!.url + c.path);

      await page.evaluate(() => {
        const audio = document.querySelector<HTMLAudioElement>('#player')!;
        const events: string[] = [];
        (window as unknown as PlayerWindow).mediaEvents = events;
        for (const type of ['loadedmetadata', 'error', 'seeked']) audio.addEventListener(type, () => events.push(type));
        audio.muted = true;
      });
      await page.click('#play');
      const events = () => page.evaluate(() => (window as unknown as PlayerWindow).mediaEvents);
      await page.waitForFunction(() =>
        ['loadedmetadata', 'error'].some((type) => (window as unknown as PlayerWindow).mediaEvents.includes(type)),
      );
      expect(await events()).not.toContain('error');
      const duration = await page.evaluate(() => document.querySelector<HTMLAudioElement>('#player')!.duration);
      expect(Math.abs(duration - asked)).toBeLessThanOrEqual(0.1);

      // Seek to the middle, then play from there: time must move past the seek point.
      const middle = await page.evaluate(() => {
        const audio = document.querySelector<HTMLAudioElement>('#player')!;
        audio.currentTime = audio.duration / 2;
        return audio.currentTime;
      });
      await page.waitForFunction(() => (window as unknown as PlayerWindow).mediaEvents.includes('seeked'));
      await page.evaluate(() => document.querySelector<HTMLAudioElement>('#player')!.play());
      await page.waitForFunction((from) => document.querySelector<HTMLAudioElement>('#player')!.currentTime > from + 0.25, middle);

      const answers = await Promise.all(responses);
      const seen = answers.map((answer) => `${answer.status} for ${answer.range ?? 'no Range'}`).join(', ');
      console.log(`Chromium: ${c.path} (${c.kind}) asked ${asked} s, audio.duration ${duration} s; answers: ${seen}`);
      expect(answers.every((answer) => answer.path === c.path)).toBe(true);
      // Chromium asks for media with Range (bytes=0- first); nginx answers it 206 from its cache.
      expect(answers.some((answer) => answer.status === 206 && /^bytes=\d+-\d*$/.test(answer.range ?? ''))).toBe(true);
      expect(answers.every((answer) => answer.status === 200 || answer.status === 206)).toBe(true);
      expect(await events()).not.toContain('error');
      expect(await page.locator('#status.error').count()).toBe(0);
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

// Chromium's own decoder (its FFmpeg build, with its own trim handling) must play a sample cut as exactly
// the asked samples: decodeAudioData at the source's rate, so no resampling changes the count.
const sampleCuts = [
  { path: '/segments/corpus/cbr-44k-128-stereo/3.25-7.5.mp3', rate: 44_100, start: 3.25, end: 7.5 },
  { path: '/segments/corpus/vbr-44k-q4-joint/1.234-3.456.mp3', rate: 44_100, start: 1.234, end: 3.456 },
  { path: '/segments/corpus/mpeg2-22k-64-stereo/0-1.5.mp3', rate: 22_050, start: 0, end: 1.5 },
  { path: '/segments/corpus/mpeg25-8k-8-mono/2-2.5.mp3', rate: 8_000, start: 2, end: 2.5 },
  { path: '/segments/corpus/cbr-48k-320-stereo/4.5-5.mp3', rate: 48_000, start: 4.5, end: 5 },
  // 1 ms inside one frame: the ask ffmpeg's own trim gets wrong (docs/api.md#accuracy).
  { path: '/segments/corpus/cbr-44k-128-stereo/5-5.001.mp3', rate: 44_100, start: 5, end: 5.001 },
];

describe('Chromium decodes sample cuts to exactly the asked samples', () => {
  it.each(sampleCuts)('$path: decodeAudioData at $rate Hz', async (c) => {
    const page = await chrome!.context.newPage();
    try {
      await page.goto(`${t!.url}/`);
      const decoded = await page.evaluate(async ({ path, rate }) => {
        const bytes = await (await fetch(path)).arrayBuffer();
        const context = new OfflineAudioContext(1, 1, rate);
        const buffer = await context.decodeAudioData(bytes);
        return { length: buffer.length, sampleRate: buffer.sampleRate };
      }, c);
      const asked = Math.round(c.end * c.rate) - Math.round(c.start * c.rate);
      console.log(`Chromium decodeAudioData: ${c.path} → ${decoded.length} samples, asked ${asked}`);
      expect(decoded).toEqual({ length: asked, sampleRate: c.rate });
    } finally {
      await page.close();
    }
  });
});
