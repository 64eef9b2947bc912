// Owns the clip picker's browser code: the waveform, the region, the keys, the options and the player.
// Written in TypeScript so it is type-checked against the DOM and wavesurfer.js's types; clip-picker-html.ts
// inlines these functions' source text into the page (no bundler, no build step beyond tsc). Hence the
// rule for this file: every function is self-contained, using only browser globals (WaveSurfer from
// /assets/), canonicalForm (segments/canonical-url.ts, inlined beside them) and the other functions listed
// in CLIENT_FUNCTIONS, never an import at run time (type imports are erased).
import type WaveSurferClass from 'wavesurfer.js';
import type RegionsPlugin from 'wavesurfer.js/dist/plugins/regions.js';
import type { Region } from 'wavesurfer.js/dist/plugins/regions.js';
import type { RenderOptions } from '../render/render-spec.js';
import type { canonicalForm as CanonicalForm } from '../segments/canonical-url.js';

declare global {
  interface Window {
    WaveSurfer: typeof WaveSurferClass & { Regions: typeof RegionsPlugin };
  }
  /** Inlined beside these functions in the page (segments/canonical-url.ts). */
  const canonicalForm: typeof CanonicalForm;
}

/** Milliseconds from what a person typed as seconds ("10", "7.25", ".5"); null when it is no such number. */
export function parseSecondsInput(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d*(\.\d*)?$/.test(trimmed) || !/\d/.test(trimmed)) return null;
  // More than three decimals are rounded to the millisecond, the URL's precision.
  const ms = Math.round(Number(trimmed) * 1000);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** audiowaveform's data format, version 2, as GET /sources/{source}/peaks.json answers it. */
export interface WaveformData {
  version: number;
  channels?: number;
  sample_rate: number;
  samples_per_pixel: number;
  bits: number;
  length: number;
  data: number[];
}

/**
 * wavesurfer's two line channels from audiowaveform min/max pairs: the top one the highest max of any
 * channel, the bottom one the lowest min, both scaled to [-1, 1] by the sample width (`bits`). Pairs are
 * interleaved per channel (min, max of channel 0, then of channel 1, for each pixel).
 */
export function waveformPeaks(waveform: WaveformData): [Float32Array, Float32Array] {
  const channels = waveform.channels ?? 1;
  const scale = 2 ** (waveform.bits - 1);
  const top = new Float32Array(waveform.length);
  const bottom = new Float32Array(waveform.length);
  for (let pixel = 0; pixel < waveform.length; pixel++) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let channel = 0; channel < channels; channel++) {
      const at = (pixel * channels + channel) * 2;
      min = Math.min(min, waveform.data[at] ?? 0);
      max = Math.max(max, waveform.data[at + 1] ?? 0);
    }
    top[pixel] = max / scale;
    bottom[pixel] = min / scale;
  }
  return [top, bottom];
}

/**
 * The peaks resolution for `pixels` across the whole source: the coarsest of the served resolutions
 * (`allowed`, samples per pixel, ascending) that still gives a pixel each; the finest when none is fine enough.
 */
export function peaksResolution(sampleRate: number, durationSeconds: number, pixels: number, allowed: readonly number[]): number {
  const wanted = (sampleRate * durationSeconds) / Math.max(1, pixels);
  let chosen = allowed[0] ?? 256;
  for (const samplesPerPixel of allowed) if (samplesPerPixel <= wanted) chosen = samplesPerPixel;
  return chosen;
}

/** An edge moved by `stepMs` (one way or the other), kept inside the source and at least 1 ms from the other edge. */
export function nudgedRegion(
  region: { startMs: number; endMs: number },
  edge: 'start' | 'end',
  stepMs: number,
  durationMs: number,
): { startMs: number; endMs: number } {
  if (edge === 'start') {
    return { startMs: Math.min(region.endMs - 1, Math.max(0, Math.round(region.startMs + stepMs))), endMs: region.endMs };
  }
  return { startMs: region.startMs, endMs: Math.max(region.startMs + 1, Math.min(durationMs, Math.round(region.endMs + stepMs))) };
}

/**
 * The region after a start or end was typed: a start at or past the end moves the end along (keeping the
 * length), an end at or before the start moves the start; both stay inside the source, 1 ms apart at least.
 */
export function typedRegion(
  region: { startMs: number; endMs: number },
  edge: 'start' | 'end',
  ms: number,
  durationMs: number,
): { startMs: number; endMs: number } {
  const length = region.endMs - region.startMs;
  if (edge === 'start') {
    const startMs = Math.min(ms, durationMs - 1);
    return { startMs, endMs: startMs < region.endMs ? region.endMs : Math.min(durationMs, startMs + length) };
  }
  const endMs = Math.max(1, Math.min(ms, durationMs));
  return { startMs: endMs > region.startMs ? region.startMs : Math.max(0, endMs - length), endMs };
}

/** Wires the page: the source list, the waveform and its region, the keys, the options, play, copy. */
export function startClipPicker(): void {
  const { canonicalSegmentUrl, formatSeconds } = canonicalForm();
  const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const sourceSelect = byId<HTMLSelectElement>('source');
  const waveformBox = byId<HTMLElement>('waveform');
  const zoomInput = byId<HTMLInputElement>('zoom');
  const startInput = byId<HTMLInputElement>('start');
  const endInput = byId<HTMLInputElement>('end');
  const lengthOutput = byId<HTMLOutputElement>('length');
  const edgeOutput = byId<HTMLOutputElement>('edge');
  const modeSelect = byId<HTMLSelectElement>('mode');
  const exactOptions = byId<HTMLFieldSetElement>('exact-options');
  const bitrateSelect = byId<HTMLSelectElement>('bitrate');
  const channelsSelect = byId<HTMLSelectElement>('channels');
  const fadeInInput = byId<HTMLInputElement>('fade-in');
  const fadeOutInput = byId<HTMLInputElement>('fade-out');
  const playButton = byId<HTMLButtonElement>('play');
  const urlField = byId<HTMLInputElement>('url');
  const copyButton = byId<HTMLButtonElement>('copy');
  const downloadLink = byId<HTMLAnchorElement>('download');
  const statusLine = byId<HTMLElement>('status');
  const audio = byId<HTMLAudioElement>('player');
  // The resolutions GET /sources/{source}/peaks.json serves, written into the page by the server.
  const resolutions = (waveformBox.dataset.samplesPerPixel ?? '256').split(' ').map(Number);
  // wavesurfer's shadow <style> may only run with this page's nonce (the CSP allows no other inline style).
  const styleNonce = document.querySelector('style')?.nonce ?? '';

  interface Source {
    source: string;
    durationSeconds: number;
    sampleRate: number;
    samplesPerFrame: number;
  }
  const sources = new Map<string, Source>();
  let current: Source | null = null;
  let region = { startMs: 0, endMs: 0 };
  let edge: 'start' | 'end' = 'start';
  let waveSurfer: WaveSurferClass | null = null;
  let shownRegion: Region | null = null;
  let peaksFor = 0;
  /** The Start or End field while a person types in it: typed, not yet committed. */
  const editing = new Set<HTMLInputElement>();

  const say = (text: string, isError = false) => {
    statusLine.textContent = text;
    statusLine.className = isError ? 'error' : '';
  };
  const durationMs = () => Math.round((current?.durationSeconds ?? 0) * 1000);

  /** The render options the form describes, or a reason it describes none. */
  function currentOptions(): RenderOptions | string {
    if (modeSelect.value !== 'exact') return { mode: 'copy' };
    const fadeInMs = fadeInInput.value.trim() === '' ? 0 : parseSecondsInput(fadeInInput.value);
    const fadeOutMs = fadeOutInput.value.trim() === '' ? 0 : parseSecondsInput(fadeOutInput.value);
    if (fadeInMs === null || fadeOutMs === null) return 'Fades are seconds, such as 0.5 or 2.';
    if (fadeInMs + fadeOutMs > region.endMs - region.startMs) return 'The fades together must fit in the region.';
    const channels = channelsSelect.value === '1' ? 1 : channelsSelect.value === '2' ? 2 : null;
    return { mode: 'exact', bitrateKbps: Number(bitrateSelect.value), channels, fadeInMs, fadeOutMs };
  }

  /** The canonical segment URL of the region and options (with download=1 when asked), or null. */
  function segmentUrl(download: boolean): string | null {
    const options = currentOptions();
    if (!current || region.endMs <= region.startMs || typeof options === 'string') return null;
    const path = canonicalSegmentUrl({ source: current.source.split('/'), ...region, options, download });
    return new URL(path, location.href).href;
  }

  /** Shows the region everywhere (fields, waveform, URL, download link). */
  function refresh() {
    // A field being typed in keeps what is typed until it is committed (the waveform may finish loading meanwhile).
    if (!editing.has(startInput)) startInput.value = formatSeconds(region.startMs);
    if (!editing.has(endInput)) endInput.value = formatSeconds(region.endMs);
    lengthOutput.value = `${formatSeconds(region.endMs - region.startMs)} s`;
    exactOptions.disabled = modeSelect.value !== 'exact';
    // Snapped to the millisecond, so the waveform shows exactly the segment the URL names.
    if (shownRegion && (shownRegion.start !== region.startMs / 1000 || shownRegion.end !== region.endMs / 1000)) {
      shownRegion.setOptions({ start: region.startMs / 1000, end: region.endMs / 1000 });
    }
    if (shownRegion) {
      // What the waveform itself holds, for whoever checks the page against it (the browser test does).
      waveformBox.dataset.regionStart = String(shownRegion.start);
      waveformBox.dataset.regionEnd = String(shownRegion.end);
    }
    const options = currentOptions();
    if (typeof options === 'string') say(options, true);
    else if (statusLine.className === 'error') say('');
    const url = segmentUrl(false);
    urlField.value = url ?? '';
    const download = segmentUrl(true);
    if (download) downloadLink.href = download;
    else downloadLink.removeAttribute('href');
  }

  function setRegion(next: { startMs: number; endMs: number }) {
    region = next;
    refresh();
  }

  /** A region wavesurfer reports (dragged or resized), held to the millisecond the URL can say. */
  function fromWaveform(shown: Region) {
    const startMs = Math.max(0, Math.round(shown.start * 1000));
    setRegion({ startMs, endMs: Math.max(startMs + 1, Math.min(durationMs(), Math.round(shown.end * 1000))) });
  }

  async function loadPeaks(source: Source, pixels: number): Promise<[Float32Array, Float32Array] | null> {
    const samplesPerPixel = peaksResolution(source.sampleRate, source.durationSeconds, pixels, resolutions);
    const encoded = source.source.split('/').map(encodeURIComponent).join('/');
    // Always spelled with its resolution: where that is the default, the service's 308 to the canonical
    // spelling is followed (the peaks URL's grammar stays in peaks/peaks-url.ts).
    let response = await fetch(`/sources/${encoded}/peaks.json?samples_per_pixel=${samplesPerPixel}`);
    // 202: a long source's peaks are still computed by a worker; look again where and when the answer says.
    while (response.status === 202) {
      const retryAfterSeconds = Number(response.headers.get('retry-after')) || 2;
      await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1000));
      response = await fetch(response.headers.get('location') ?? response.url);
    }
    if (!response.ok) {
      const problem = response.headers.get('content-type')?.includes('problem+json')
        ? ((await response.json()) as { detail?: string })
        : null;
      say(`The waveform could not be loaded: ${problem?.detail ?? `HTTP ${response.status}`}`, true);
      return null;
    }
    return waveformPeaks((await response.json()) as WaveformData);
  }

  /** Draws the source's waveform (a flat line when its peaks cannot be had) with one region on it. */
  async function showSource(name: string) {
    const source = sources.get(name);
    if (!source) return;
    current = source;
    waveSurfer?.destroy();
    waveSurfer = null;
    shownRegion = null;
    audio.removeAttribute('src');
    zoomInput.value = '0';
    waveformBox.dataset.ready = 'false';
    // The region and its URL are there at once; the waveform follows its peaks.
    setRegion({ startMs: 0, endMs: Math.min(durationMs(), 10_000) });
    peaksFor = waveformBox.clientWidth * 4;
    // A source's first peaks are computed by a worker while this waits (seconds for an hour of audio).
    say('Drawing the waveform…');
    const peaks = await loadPeaks(source, peaksFor).catch(() => null);
    if (current !== source) return;
    if (peaks) say('');
    const duration = source.durationSeconds;
    const created = window.WaveSurfer.create({
      container: waveformBox,
      height: 128,
      waveColor: '#3f6fb5',
      progressColor: '#3f6fb5',
      cursorWidth: 0,
      // Clicks on the waveform draw regions; nothing plays in wavesurfer itself (the <audio> plays the segment).
      interact: false,
      normalize: true,
      peaks: peaks ?? [new Float32Array(1), new Float32Array(1)],
      duration,
      cspNonce: styleNonce,
    });
    waveSurfer = created;
    const regions = created.registerPlugin(window.WaveSurfer.Regions.create());
    regions.enableDragSelection({ color: 'rgba(255, 160, 0, 0.3)' });
    regions.on('region-created', (added) => {
      // One region at a time: a new drag replaces the old one.
      for (const old of regions.getRegions()) if (old !== added) old.remove();
      shownRegion = added;
      fromWaveform(added);
    });
    regions.on('region-update', (changed) => fromWaveform(changed));
    regions.on('region-updated', (changed) => fromWaveform(changed));
    // A region added before wavesurfer knows the duration would be clamped to 0 s: wait for it.
    await new Promise((resolve) => created.once('ready', resolve));
    if (waveSurfer !== created) return;
    shownRegion = regions.addRegion({ start: region.startMs / 1000, end: region.endMs / 1000, color: 'rgba(255, 160, 0, 0.3)' });
    refresh();
    waveformBox.dataset.ready = 'true';
    document.body.dataset.ready = 'true';
  }

  /** Zooms to `pxPerSec` (0: the whole source fits), fetching finer peaks when the view outgrows them. */
  async function zoom(pxPerSec: number) {
    const shown = waveSurfer;
    const source = current;
    if (!shown || !source) return;
    shown.zoom(pxPerSec);
    // Peaks are of the whole source: at most 200,000 pixels of them (an hour at 44.1 kHz: 1024 samples a
    // pixel, about 2.5 MB of JSON in stereo), however far in the view is zoomed.
    const pixels = Math.min(200_000, Math.ceil(pxPerSec * source.durationSeconds));
    if (pixels <= peaksFor || peaksResolution(source.sampleRate, source.durationSeconds, peaksFor, resolutions) === resolutions[0]) return;
    peaksFor = pixels;
    const peaks = await loadPeaks(source, pixels).catch(() => null);
    // load() draws them anew (setOptions would keep the old drawing); the region stays.
    if (peaks && waveSurfer === shown) await shown.load('', peaks, source.durationSeconds);
  }

  function play() {
    const url = segmentUrl(false);
    if (!url) return;
    say('Loading… (a new segment is rendered first)');
    audio.src = url;
    // A refused autoplay is no failure: the controls stay there to press play.
    audio.play().catch(() => undefined);
  }

  function selectEdge(next: 'start' | 'end') {
    edge = next;
    edgeOutput.value = next;
  }

  /** The keys of the focused waveform (listed on the page): edges, nudges, play, zoom. */
  function onWaveformKey(event: KeyboardEvent) {
    if (!current) return;
    const frameMs = (current.samplesPerFrame / current.sampleRate) * 1000;
    const step = event.ctrlKey || event.metaKey || event.altKey ? 1000 : event.shiftKey ? 100 : frameMs;
    if (event.key === '[') selectEdge('start');
    else if (event.key === ']') selectEdge('end');
    else if (event.key === 'ArrowLeft' || event.key === 'ArrowRight') {
      setRegion(nudgedRegion(region, edge, event.key === 'ArrowLeft' ? -step : step, durationMs()));
    } else if (event.key === ' ' || event.key === 'Enter') play();
    else if (event.key === '+' || event.key === '=') zoomBy(1);
    else if (event.key === '-') zoomBy(-1);
    else return;
    event.preventDefault();
  }

  function zoomBy(steps: number) {
    zoomInput.value = String(Number(zoomInput.value) + steps * Number(zoomInput.step));
    void zoom(Number(zoomInput.value));
  }

  /** A start or end typed in its field (on Enter or leaving it): the other edge moves along if it must. */
  function typedEdge(input: HTMLInputElement, which: 'start' | 'end') {
    const ms = parseSecondsInput(input.value);
    if (ms === null) {
      say('Start and end are seconds, such as 10 or 7.25.', true);
      return;
    }
    setRegion(typedRegion(region, which, ms, durationMs()));
  }

  async function loadSources() {
    const response = await fetch('/sources', { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`GET /sources answered ${response.status}`);
    const body = (await response.json()) as { sources: (Partial<Source> & { source: string; error?: string })[]; truncated: boolean };
    sourceSelect.replaceChildren();
    for (const entry of body.sources) {
      const option = document.createElement('option');
      option.value = entry.source;
      // textContent, never innerHTML: file names are shown as text, whatever characters they hold.
      if (entry.error !== undefined) {
        option.textContent = `${entry.source} (cannot be served)`;
        option.title = entry.error;
        option.disabled = true;
      } else {
        option.textContent = `${entry.source} (${entry.durationSeconds} s)`;
        sources.set(entry.source, entry as Source);
      }
      sourceSelect.append(option);
    }
    const firstPlayable = body.sources.find((entry) => entry.error === undefined);
    if (!firstPlayable) {
      say('There are no playable .mp3 files below MEDIA_ROOT.', true);
      document.body.dataset.ready = 'true';
      return;
    }
    sourceSelect.value = firstPlayable.source;
    if (body.truncated) say('Only the first sources are listed; others can still be asked for by URL.');
    await showSource(firstPlayable.source);
  }

  /** After a failed load, asks for one byte to show the service's own reason (problem+json detail). */
  async function explainFailure(url: string) {
    try {
      const response = await fetch(url, { headers: { range: 'bytes=0-0' } });
      const problem = response.headers.get('content-type')?.includes('problem+json')
        ? ((await response.json()) as { detail?: string })
        : null;
      say(problem?.detail ?? `The browser could not play this segment (HTTP ${response.status}).`, true);
    } catch {
      say('The segment could not be loaded; is the service running?', true);
    }
  }

  sourceSelect.addEventListener('change', () => void showSource(sourceSelect.value));
  zoomInput.addEventListener('input', () => void zoom(Number(zoomInput.value)));
  waveformBox.addEventListener('keydown', onWaveformKey);
  for (const [input, edgeOf] of [
    [startInput, 'start'],
    [endInput, 'end'],
  ] as const) {
    input.addEventListener('input', () => editing.add(input));
    input.addEventListener('change', () => {
      editing.delete(input);
      typedEdge(input, edgeOf);
    });
    input.addEventListener('focus', () => selectEdge(edgeOf));
  }
  for (const input of [modeSelect, bitrateSelect, channelsSelect, fadeInInput, fadeOutInput]) input.addEventListener('input', refresh);
  playButton.addEventListener('click', play);
  audio.addEventListener('loadedmetadata', () => say(`Loaded: ${audio.duration.toFixed(3)} s of audio.`));
  audio.addEventListener('error', () => void explainFailure(audio.currentSrc || urlField.value));
  copyButton.addEventListener('click', async () => {
    const url = segmentUrl(false);
    if (!url) return;
    try {
      // The Clipboard API needs a secure context (https or localhost) and may be refused.
      await navigator.clipboard.writeText(url);
      say('URL copied.');
    } catch {
      urlField.focus();
      urlField.select();
      say(document.execCommand('copy') ? 'URL copied.' : 'Press Ctrl+C (or ⌘C) to copy the selected URL.');
    }
  });
  loadSources().catch((error: Error) => say(`Could not list the sources: ${error.message}`, true));
}

/** What the page's script holds after canonicalForm, in order; its last line calls startClipPicker(). */
export const CLIENT_FUNCTIONS = [parseSecondsInput, waveformPeaks, peaksResolution, nudgedRegion, typedRegion, startClipPicker];
