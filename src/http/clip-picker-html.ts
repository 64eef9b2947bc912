// Owns the clip picker's HTML and its Content-Security-Policy: one document with inline CSS and script,
// plus wavesurfer.js from /assets/ (page-assets.ts). Scripts run by hash only (the inline one, and the two
// library files through their integrity attributes); styles by a nonce made for each answer, because
// wavesurfer writes a <style> of its own into its shadow root and takes the nonce for it (its cspNonce).
// Nothing from a request or the file system is written into it: sources arrive through GET /sources and
// are shown with textContent.
import { createHash, randomBytes } from 'node:crypto';
import { SAMPLES_PER_PIXEL } from '../peaks/peaks-url.js';
import { canonicalForm } from '../segments/canonical-url.js';
import { DEFAULT_EXACT_BITRATE, MP3_BITRATES } from '../segments/render-options.js';
import { CLIENT_FUNCTIONS } from './clip-picker-client.js';
import type { PageAssets } from './page-assets.js';

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
  h1 { font-size: 1.4rem; margin-bottom: 0.25rem; }
  input, select, button { font: inherit; padding: 0.3rem 0.5rem; }
  .row { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center; margin: 0.75rem 0; }
  #waveform { border: 1px solid #8888; border-radius: 4px; min-height: 130px; margin: 0.75rem 0; }
  #waveform:focus { outline: 3px solid #ffa000; outline-offset: 2px; }
  #start, #end, #fade-in, #fade-out { width: 6rem; }
  fieldset { border: 1px solid #8888; border-radius: 4px; }
  fieldset:disabled { opacity: 0.5; }
  .url { display: flex; gap: 0.5rem; }
  .url input { flex: 1; font-family: ui-monospace, monospace; font-size: 0.9rem; }
  audio { width: 100%; margin-top: 1rem; }
  #status { min-height: 1.5em; }
  #status.error { color: #c62828; }
  kbd { font-family: ui-monospace, monospace; border: 1px solid #8888; border-radius: 3px; padding: 0 0.25rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; margin: 0.5rem 0; }
  dd { margin: 0; }
`;

// canonicalForm first: the page writes segment URLs with the server's own code.
const SCRIPT = `'use strict';\n${[canonicalForm, ...CLIENT_FUNCTIONS].map((fn) => fn.toString()).join('\n\n')}\n\nstartClipPicker();\n`;

// The script is inlined as text: a closing tag inside it would end the element early.
if (/<\/(script|style)/i.test(SCRIPT) || /<\/style/i.test(STYLE)) throw new Error('the clip picker script or style contains a closing tag');

const BITRATE_OPTIONS = MP3_BITRATES.map(
  (kbps) => `<option value="${kbps}"${kbps === DEFAULT_EXACT_BITRATE ? ' selected' : ''}>${kbps} kbps</option>`,
).join('');

function body(assets: PageAssets, nonce: string): string {
  const script = (asset: { url: string; integrity: string }) => `<script src="${asset.url}" integrity="${asset.integrity}"></script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mp3-segments clip picker</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>mp3-segments clip picker</h1>
<p>Pick a source, drag across its waveform to choose a region, hear it, and take its URL:
<code>/segments/{source}/{start}-{end}.mp3</code>, the URL any player or download link can use.</p>
<div class="row">
  <label for="source">Source</label>
  <select id="source"><option value="">loading…</option></select>
  <label for="zoom">Zoom</label>
  <input id="zoom" type="range" min="0" max="500" step="25" value="0" aria-label="zoom, pixels per second">
</div>
<div id="waveform" data-samples-per-pixel="${SAMPLES_PER_PIXEL.join(' ')}" tabindex="0" role="group" aria-label="waveform: drag to choose a region; keys below" aria-describedby="keys"></div>
<div class="row">
  <label for="start">Start (s)</label>
  <input id="start" inputmode="decimal" autocomplete="off">
  <label for="end">End (s)</label>
  <input id="end" inputmode="decimal" autocomplete="off">
  <span>Length <output id="length"></output></span>
  <span>Keys move the <output id="edge">start</output></span>
</div>
<details id="keys">
  <summary>Keys (with the waveform focused)</summary>
  <dl>
    <dt><kbd>[</kbd> / <kbd>]</kbd></dt><dd>the keys below move the start / the end</dd>
    <dt><kbd>←</kbd> <kbd>→</kbd></dt><dd>by one MP3 frame (1152 samples, 576 below 32 kHz; 26.122 ms at 44.1 kHz), to the millisecond</dd>
    <dt><kbd>Shift</kbd> + <kbd>←</kbd> <kbd>→</kbd></dt><dd>by 0.1 s</dd>
    <dt><kbd>Ctrl</kbd> (or <kbd>Alt</kbd>, <kbd>⌘</kbd>) + <kbd>←</kbd> <kbd>→</kbd></dt><dd>by 1 s</dd>
    <dt><kbd>Space</kbd> or <kbd>Enter</kbd></dt><dd>play the region</dd>
    <dt><kbd>+</kbd> / <kbd>-</kbd></dt><dd>zoom in / out</dd>
  </dl>
  <p>Typing a start or end and pressing <kbd>Enter</kbd> (or leaving the field) moves that edge too.</p>
</details>
<div class="row">
  <label for="mode">Mode</label>
  <select id="mode">
    <option value="copy">copy: lossless, to the sample in gapless players</option>
    <option value="exact">exact: re-encoded (bit rate, channels, fades)</option>
  </select>
</div>
<fieldset id="exact-options" disabled>
  <legend>exact options</legend>
  <div class="row">
    <label for="bitrate">Bit rate</label>
    <select id="bitrate">${BITRATE_OPTIONS}</select>
    <label for="channels">Channels</label>
    <select id="channels"><option value="">as the source</option><option value="1">1 (mono)</option><option value="2">2 (stereo)</option></select>
    <label for="fade-in">Fade in (s)</label>
    <input id="fade-in" inputmode="decimal" autocomplete="off" placeholder="0">
    <label for="fade-out">Fade out (s)</label>
    <input id="fade-out" inputmode="decimal" autocomplete="off" placeholder="0">
  </div>
</fieldset>
<div class="row">
  <button id="play" type="button">Play region</button>
  <a id="download">Download</a>
</div>
<div class="url">
  <input id="url" readonly aria-label="canonical segment URL">
  <button id="copy" type="button">Copy</button>
</div>
<p id="status" role="status" aria-live="polite"></p>
<audio id="player" controls preload="metadata"></audio>
${script(assets.wavesurfer)}
${script(assets.regions)}
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export interface ClipPickerAnswer {
  html: string;
  contentSecurityPolicy: string;
}

/** The page and its policy for one answer, under a fresh style nonce. */
export function clipPickerAnswer(assets: PageAssets): ClipPickerAnswer {
  const nonce = randomBytes(16).toString('base64');
  return {
    html: body(assets, nonce),
    // Only this page's own code and the two library files run; it may talk to and play from this origin only.
    contentSecurityPolicy: [
      "default-src 'none'",
      `script-src ${hash(SCRIPT)} '${assets.wavesurfer.integrity}' '${assets.regions.integrity}'`,
      `style-src 'nonce-${nonce}'`,
      "connect-src 'self'",
      "media-src 'self'",
      'img-src data:',
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
}
