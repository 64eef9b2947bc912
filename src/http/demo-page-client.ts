// Owns the demo page's browser code. Written in TypeScript so it is type-checked against the DOM and its
// URL building is unit-tested against the server's canonical form; demo-page-html.ts inlines these
// functions' source text into the page (no bundler, no build step beyond tsc). Hence the rule for this
// file: every function is self-contained, using only browser globals and the other functions listed in
// CLIENT_FUNCTIONS, never an import.

/** Milliseconds from what a person typed as seconds ("10", "7.25", ".5"); null when it is no such number. */
export function parseSecondsInput(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d*(\.\d*)?$/.test(trimmed) || !/\d/.test(trimmed)) return null;
  // More than three decimals are rounded to the millisecond, the URL's precision.
  const ms = Math.round(Number(trimmed) * 1000);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** The canonical spelling (as src/segments/seconds.ts writes it): no leading zeros, no trailing fraction zeros. */
export function formatMs(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const fraction = String(ms % 1000)
    .padStart(3, '0')
    .replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : String(whole);
}

/** The canonical segment path: each source path segment percent-encoded, so the player never meets a 308. */
export function segmentPath(source: string, startMs: number, endMs: number, mode: string): string {
  const encoded = source.split('/').map(encodeURIComponent).join('/');
  return `/segments/${encoded}/${formatMs(startMs)}-${formatMs(endMs)}.mp3${mode === 'exact' ? '?mode=exact' : ''}`;
}

/** Wires the page: loads GET /sources into the picker, keeps the URL field current, plays, copies. */
export function startDemoPage(): void {
  const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
  const form = byId<HTMLFormElement>('segment-form');
  const sourceSelect = byId<HTMLSelectElement>('source');
  const startInput = byId<HTMLInputElement>('start');
  const endInput = byId<HTMLInputElement>('end');
  const modeSelect = byId<HTMLSelectElement>('mode');
  const urlField = byId<HTMLInputElement>('url');
  const copyButton = byId<HTMLButtonElement>('copy');
  const downloadLink = byId<HTMLAnchorElement>('download');
  const statusLine = byId<HTMLElement>('status');
  const audio = byId<HTMLAudioElement>('player');
  const durations = new Map<string, number>();

  const say = (text: string, isError = false) => {
    statusLine.textContent = text;
    statusLine.className = isError ? 'error' : '';
  };
  const refuse = (reason: string): null => {
    say(reason, true);
    return null;
  };

  /** The segment URL the form describes, or null (with the reason shown) when it describes none. */
  function currentPath(): string | null {
    const source = sourceSelect.value;
    const startMs = parseSecondsInput(startInput.value);
    const endMs = parseSecondsInput(endInput.value);
    if (!source) return null;
    if (startMs === null || endMs === null) return refuse('Start and end are seconds, such as 10 or 7.25.');
    if (endMs <= startMs) return refuse('The end must be after the start.');
    const duration = durations.get(source);
    if (duration !== undefined && startMs >= duration * 1000) {
      return refuse(`The start must be before the source's end (${duration} s).`);
    }
    say('');
    return segmentPath(source, startMs, endMs, modeSelect.value);
  }

  function refresh(): string | null {
    const path = currentPath();
    urlField.value = path ? new URL(path, location.href).href : '';
    if (path) downloadLink.href = `${path}${path.includes('?') ? '&' : '?'}download=1`;
    else downloadLink.removeAttribute('href');
    return path ? urlField.value : null;
  }

  async function loadSources() {
    const response = await fetch('/sources', { headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`GET /sources answered ${response.status}`);
    const body = (await response.json()) as { sources: { source: string; durationSeconds?: number; error?: string }[]; truncated: boolean };
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
        durations.set(entry.source, entry.durationSeconds ?? 0);
      }
      sourceSelect.append(option);
    }
    const firstPlayable = body.sources.find((entry) => entry.error === undefined);
    if (firstPlayable) sourceSelect.value = firstPlayable.source;
    refresh();
    if (!firstPlayable) say('There are no playable .mp3 files below MEDIA_ROOT.', true);
    else if (body.truncated) say('Only the first sources are listed; others can still be asked for by URL.');
    document.body.dataset.ready = 'true';
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

  for (const input of [sourceSelect, startInput, endInput, modeSelect]) input.addEventListener('input', () => refresh());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const url = refresh();
    if (!url) return;
    say('Loading… (a new segment is rendered first)');
    audio.src = url;
    // A refused autoplay is no failure: the controls stay there to press play.
    audio.play().catch(() => undefined);
  });
  audio.addEventListener('loadedmetadata', () => say(`Loaded: ${audio.duration.toFixed(3)} s of audio.`));
  audio.addEventListener('error', () => void explainFailure(audio.currentSrc || urlField.value));
  copyButton.addEventListener('click', async () => {
    const url = refresh();
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

/** What the page's script holds, in order; its last line calls startDemoPage(). */
export const CLIENT_FUNCTIONS = [parseSecondsInput, formatMs, segmentPath, startDemoPage];
