// A person at the clip picker: headless Chromium opens / through nginx, picks a source, drags a region
// across its waveform with real mouse events, nudges it with the keys, and the URL shown must be the
// canonical one for exactly that region (to the millisecond); the region plays as a segment whose length
// the <audio> element reports; the page loads nothing off its origin and breaks none of its CSP; and a
// screenshot of it goes into docs/.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config.js';
import { parseRenderOptions } from '../../src/segments/render-options.js';
import { parseSeconds } from '../../src/segments/seconds.js';
import { canonicalSegmentUrl, parseSegmentPath } from '../../src/segments/segment-url.js';
import { ensureChromium, startStackAndBrowser, type TestBrowser } from '../helpers/chromium.js';
import type { TestStack } from '../helpers/test-stack.js';

let t: TestStack | undefined;
let chrome: TestBrowser | undefined;
let stop: (() => Promise<void>) | undefined;

// On a machine without Chromium, apt-get may need minutes; only this hook gets that long.
beforeAll(() => void ensureChromium(), 600_000);

beforeAll(async () => {
  ({ t, chrome, stop } = await startStackAndBrowser());
});

afterAll(async () => {
  await stop?.();
});

interface Shown {
  start: string;
  end: string;
  url: string;
  download: string;
  /** The region as wavesurfer holds it, in seconds. */
  regionStart: number;
  regionEnd: number;
}

/** What the page shows of the region: its fields, the waveform's own region, the URL and the download link. */
async function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const waveform = document.querySelector<HTMLElement>('#waveform')!;
    return {
      start: document.querySelector<HTMLInputElement>('#start')!.value,
      end: document.querySelector<HTMLInputElement>('#end')!.value,
      url: document.querySelector<HTMLInputElement>('#url')!.value,
      download: document.querySelector<HTMLAnchorElement>('#download')!.href,
      regionStart: Number(waveform.dataset.regionStart),
      regionEnd: Number(waveform.dataset.regionEnd),
    };
  });
}

/**
 * The URL must be what the service itself writes for the region the page reports (fields and waveform
 * agreeing to the millisecond), and already canonical: the service's parser and writer give it back unchanged.
 */
function expectCanonicalFor(view: Shown, source: string, query: Record<string, string> = {}) {
  const startMs = parseSeconds(view.start, 'start');
  const endMs = parseSeconds(view.end, 'end');
  expect(Math.round(view.regionStart * 1000)).toBe(startMs);
  expect(Math.round(view.regionEnd * 1000)).toBe(endMs);
  // Snapped to the millisecond, not merely rounded for show.
  expect(Math.abs(view.regionStart * 1000 - startMs)).toBeLessThan(1e-6);
  expect(Math.abs(view.regionEnd * 1000 - endMs)).toBeLessThan(1e-6);
  const options = parseRenderOptions(query);
  const canonical = canonicalSegmentUrl({ source: source.split('/'), startMs, endMs, options, download: false });
  expect(view.url).toBe(t!.url + canonical);
  expect(view.download).toBe(`${t!.url}${canonicalSegmentUrl({ source: source.split('/'), startMs, endMs, options, download: true })}`);
  const [pathPart = '', queryPart = ''] = canonical.split('?');
  const reparsed = canonicalSegmentUrl({
    ...parseSegmentPath(pathPart),
    options: parseRenderOptions(Object.fromEntries(new URLSearchParams(queryPart))),
    download: false,
  });
  expect(reparsed).toBe(canonical);
}

/** Opens the page, recording every request's origin and every console error (a CSP refusal shows there). */
async function openClipPicker(): Promise<{ page: Page; origins: Set<string>; consoleErrors: string[] }> {
  const page = await chrome!.context.newPage();
  await page.setViewportSize({ width: 1100, height: 900 });
  const origins = new Set<string>();
  const consoleErrors: string[] = [];
  page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('request', (request) => void origins.add(new URL(request.url()).origin));
  await page.goto(`${t!.url}/`);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, origins, consoleErrors };
}

async function pickSource(page: Page, source: string) {
  await page.selectOption('#source', source);
  await page.waitForSelector('#waveform[data-ready="true"]');
  await page.waitForFunction(() => document.querySelector<HTMLElement>('#waveform')!.dataset.regionEnd !== undefined);
}

/** Drags across the waveform from `from` to `to` seconds, with the mouse, as a person would. */
async function dragRegion(page: Page, durationSeconds: number, from: number, to: number) {
  const box = (await page.locator('#waveform').boundingBox())!;
  const y = box.y + box.height / 2;
  const x = (seconds: number) => box.x + (seconds / durationSeconds) * box.width;
  await page.mouse.move(x(from), y);
  await page.mouse.down();
  await page.mouse.move(x(from) + 10, y, { steps: 3 });
  await page.mouse.move(x(to), y, { steps: 12 });
  await page.mouse.up();
  return { secondsPerPixel: durationSeconds / box.width };
}

/** Plays the region with the page's own button; the <audio> element's duration once it has loaded. */
async function playRegion(page: Page): Promise<number> {
  await page.evaluate(() => {
    document.querySelector<HTMLAudioElement>('#player')!.muted = true;
  });
  await page.click('#play');
  await page.waitForFunction(() => {
    const audio = document.querySelector<HTMLAudioElement>('#player')!;
    return audio.readyState >= 1 || audio.error !== null;
  });
  const played = await page.evaluate(() => {
    const audio = document.querySelector<HTMLAudioElement>('#player')!;
    return { duration: audio.duration, error: audio.error?.message ?? null, src: audio.currentSrc };
  });
  expect(played.error).toBeNull();
  return played.duration;
}

async function sourceFacts(source: string) {
  const facts = (await (await fetch(`${t!.url}/sources/${source}`)).json()) as {
    durationSeconds: number;
    sampleRate: number;
    samplesPerFrame: number;
  };
  return { ...facts, frameSeconds: facts.samplesPerFrame / facts.sampleRate };
}

describe('the clip picker through nginx', () => {
  it('is served uncached with a CSP that runs only its own code and the library files it names by hash', async () => {
    const response = await fetch(`${t!.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const csp = response.headers.get('content-security-policy') ?? '';
    const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
    expect(scriptSrc.split(' ').every((source) => /^'sha256-[A-Za-z0-9+/]+=*'$/.test(source))).toBe(true);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    const html = await response.text();
    for (const [, src, integrity] of html.matchAll(/<script src="([^"]+)" integrity="([^"]+)">/g)) {
      const library = await fetch(`${t!.url}${src}`);
      expect(library.status).toBe(200);
      expect(library.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(scriptSrc).toContain(`'${integrity}'`);
    }
  });

  it('a person picks a source and drags a region: the URL shown is the canonical one for that region, to the millisecond', async () => {
    const { page, origins, consoleErrors } = await openClipPicker();
    try {
      const facts = await sourceFacts('demo/talk');
      await pickSource(page, 'demo/talk');
      const { secondsPerPixel } = await dragRegion(page, facts.durationSeconds, 12, 19.5);
      await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#waveform')!.dataset.regionStart) > 1);
      const view = await shown(page);
      console.log(`clip picker: dragged 12-19.5 s on demo/talk (${secondsPerPixel.toFixed(4)} s a pixel): ${view.url}`);
      // Where the mouse went, within a few pixels: wavesurfer's drag selection starts a region 5 px wide at
      // the press and then follows the pointer, so its end runs up to 5 px (and a border) past the release.
      expect(Math.abs(view.regionStart - 12)).toBeLessThanOrEqual(2 * secondsPerPixel);
      expect(Math.abs(view.regionEnd - 19.5)).toBeLessThanOrEqual(7 * secondsPerPixel);
      expectCanonicalFor(view, 'demo/talk');
      // One region only: the drag replaced the one the page started with.
      expect(
        await page.evaluate(() => document.querySelector('#waveform div')?.shadowRoot?.querySelectorAll('[part~="region"]').length),
      ).toBe(1);

      const duration = await playRegion(page);
      const asked = parseSeconds(view.end, 'end') / 1000 - parseSeconds(view.start, 'start') / 1000;
      console.log(`clip picker: played ${view.url}: audio.duration ${duration} s, region ${asked} s`);
      // A copy is a sample cut (docs/api.md#accuracy): Chromium reads its length from the LAME tag, to the sample.
      expect(Math.abs(duration - asked)).toBeLessThanOrEqual(0.001);
      expect([...origins]).toEqual([t!.url]);
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('the keys nudge the chosen edge by a frame, 0.1 s and 1 s, and the URL follows', async () => {
    const { page, consoleErrors } = await openClipPicker();
    try {
      const facts = await sourceFacts('demo/tones');
      await pickSource(page, 'demo/tones');
      await page.fill('#start', '20');
      await page.press('#start', 'Enter');
      await page.fill('#end', '030.500');
      await page.press('#end', 'Enter');
      let view = await shown(page);
      expect([view.start, view.end]).toEqual(['20', '30.5']);
      expectCanonicalFor(view, 'demo/tones');

      await page.focus('#waveform');
      await page.keyboard.press(']');
      await page.keyboard.press('ArrowRight');
      view = await shown(page);
      expect(view.end).toBe(String((30_500 + Math.round(facts.frameSeconds * 1000)) / 1000));
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('Shift+ArrowRight');
      await page.keyboard.press('[');
      await page.keyboard.press('Control+ArrowLeft');
      await page.keyboard.press('Shift+ArrowLeft');
      view = await shown(page);
      expect([view.start, view.end]).toEqual(['18.9', '30.6']);
      expectCanonicalFor(view, 'demo/tones');

      // Zoom in with the keys: the waveform grows wider than its box (it scrolls), the region stays.
      await page.keyboard.press('+');
      await page.keyboard.press('+');
      expect(await page.inputValue('#zoom')).toBe('50');
      await page.waitForFunction(() => {
        const scroll = document.querySelector('#waveform div')?.shadowRoot?.querySelector('.scroll');
        return scroll !== null && scroll !== undefined && scroll.scrollWidth > 2 * scroll.clientWidth;
      });
      expect(await shown(page)).toEqual(view);

      // Exact mode and its options, written in the service's canonical order with defaults left out.
      await page.selectOption('#mode', 'exact');
      await page.selectOption('#bitrate', '64');
      await page.selectOption('#channels', '1');
      await page.fill('#fade-in', '0.50');
      view = await shown(page);
      expectCanonicalFor(view, 'demo/tones', { mode: 'exact', bitrate: '64', channels: '1', fade_in: '0.5' });
      expect(view.url).toBe(`${t!.url}/segments/demo/tones/18.9-30.6.mp3?mode=exact&bitrate=64&channels=1&fade_in=0.5`);
      const duration = await playRegion(page);
      console.log(`clip picker: played ${view.url}: audio.duration ${duration} s, region 11.7 s`);
      // An exact render lasts the asked length to the sample.
      expect(Math.abs(duration - 11.7)).toBeLessThanOrEqual(0.001);
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('a time typed while the waveform is still loading is kept, not overwritten when it arrives', async () => {
    const { page, consoleErrors } = await openClipPicker();
    try {
      // The real peaks answer, held back until the time is typed (as a slow first computation would be).
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      await page.route('**/peaks.json*', async (route) => {
        await held;
        await route.continue();
      });
      await page.selectOption('#source', 'demo/talk');
      await page.fill('#end', '11.5');
      release();
      await page.waitForSelector('#waveform[data-ready="true"]');
      expect(await page.inputValue('#end')).toBe('11.5');
      await page.press('#end', 'Enter');
      const view = await shown(page);
      expect([view.start, view.end]).toEqual(['0', '11.5']);
      expectCanonicalFor(view, 'demo/talk');
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('Copy puts the canonical URL on the clipboard, and Download is its attachment link', async () => {
    await chrome!.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t!.url });
    const { page, consoleErrors } = await openClipPicker();
    try {
      await pickSource(page, 'demo/chirp');
      await page.fill('#start', '1.50');
      await page.press('#start', 'Tab');
      await page.fill('#end', '4');
      await page.press('#end', 'Tab');
      await page.click('#copy');
      await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'URL copied.');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${t!.url}/segments/demo/chirp/1.5-4.mp3`);
      const download = await page.getAttribute('#download', 'href');
      expect(download).toBe(`${t!.url}/segments/demo/chirp/1.5-4.mp3?download=1`);
      const head = await fetch(download!, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-disposition')).toMatch(/^attachment; filename="chirp_1.5-4.mp3"/);
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  // Written into the docs only when asked (CLIP_PICKER_SCREENSHOT=docs/clip-picker.png): each run's URL has
  // another port, so writing it every time would leave the checkout changed after every npm test.
  it('looks like a clip picker: a screenshot with the waveform and a region, for the docs', async () => {
    const { page, consoleErrors } = await openClipPicker();
    try {
      const facts = await sourceFacts('demo/talk');
      await pickSource(page, 'demo/talk');
      await dragRegion(page, facts.durationSeconds, 21, 33.4);
      await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#waveform')!.dataset.regionStart) > 15);
      await playRegion(page);
      await page.click('#keys summary');
      const file = process.env.CLIP_PICKER_SCREENSHOT
        ? path.resolve(PROJECT_ROOT, process.env.CLIP_PICKER_SCREENSHOT)
        : path.join(t!.config.dataDir, 'clip-picker.png');
      const png = await page.screenshot({ path: file, fullPage: true });
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
