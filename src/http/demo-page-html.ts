// Owns the demo page's HTML: one self-contained document (inline CSS and script, no external assets),
// built once at start, with the Content-Security-Policy that allows exactly its own inline code (by hash).
// Nothing from a request or the file system is written into it: sources arrive through GET /sources and
// are shown with textContent.
import { createHash } from 'node:crypto';
import { CLIENT_FUNCTIONS } from './demo-page-client.js';

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { max-width: 44rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
  h1 { font-size: 1.4rem; margin-bottom: 0.25rem; }
  form { display: grid; grid-template-columns: 6rem 1fr; gap: 0.5rem 0.75rem; align-items: center; margin: 1.5rem 0; }
  input, select, button { font: inherit; padding: 0.3rem 0.5rem; }
  .actions { grid-column: 2; display: flex; gap: 0.75rem; align-items: center; }
  .url { display: flex; gap: 0.5rem; }
  .url input { flex: 1; font-family: ui-monospace, monospace; font-size: 0.9rem; }
  audio { width: 100%; margin-top: 1rem; }
  #status { min-height: 1.5em; }
  #status.error { color: #c62828; }
  code { font-size: 0.9em; }
`;

const SCRIPT = `'use strict';\n${CLIENT_FUNCTIONS.map((fn) => fn.toString()).join('\n\n')}\n\nstartDemoPage();\n`;

// The script is inlined as text: a closing tag inside it would end the element early.
if (/<\/(script|style)/i.test(SCRIPT) || /<\/style/i.test(STYLE)) throw new Error('the demo page script or style contains a closing tag');

const BODY = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mp3-segments demo</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<h1>mp3-segments</h1>
<p>Pick a source and a time range: the player asks for <code>/segments/{source}/{start}-{end}.mp3</code>, the
URL any player or download link can use.</p>
<form id="segment-form">
  <label for="source">Source</label>
  <select id="source" required><option value="">loading…</option></select>
  <label for="start">Start (s)</label>
  <input id="start" inputmode="decimal" value="10" autocomplete="off" required>
  <label for="end">End (s)</label>
  <input id="end" inputmode="decimal" value="20" autocomplete="off" required>
  <label for="mode">Mode</label>
  <select id="mode">
    <option value="copy">copy: lossless, to the sample in gapless players</option>
    <option value="exact">exact: re-encoded (bit rate, channels, fades)</option>
  </select>
  <div class="actions">
    <button id="play" type="submit">Play</button>
    <a id="download">Download</a>
  </div>
  <label for="url">URL</label>
  <div class="url">
    <input id="url" readonly aria-label="segment URL">
    <button id="copy" type="button">Copy</button>
  </div>
</form>
<p id="status" role="status" aria-live="polite"></p>
<audio id="player" controls preload="metadata"></audio>
<script>${SCRIPT}</script>
</body>
</html>
`;

const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export interface DemoPage {
  html: string;
  etag: string;
  contentSecurityPolicy: string;
}

export const demoPage: DemoPage = Object.freeze({
  html: BODY,
  etag: `"${createHash('sha256').update(BODY).digest('hex').slice(0, 32)}"`,
  // Only this page's own inline code runs; it may talk to and play from this origin only.
  contentSecurityPolicy: [
    "default-src 'none'",
    `script-src ${hash(SCRIPT)}`,
    `style-src ${hash(STYLE)}`,
    "connect-src 'self'",
    "media-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
});
