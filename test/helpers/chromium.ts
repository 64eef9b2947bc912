// Owns the headless Chromium the browser tests drive: Debian's `chromium` package (Playwright's own browser
// downloads cannot reach the network here), installed when missing so the test never skips, and launched
// with the flags that keep it off the network; and the stack and browser a page test starts side by side.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireProgram } from './system-programs.js';
import { startTestStack, type TestStack } from './test-stack.js';

/** Debian's chromium: found, or installed (as root), or the test fails with the command to run. */
export function ensureChromium(): string {
  return requireProgram('chromium', 'chromium');
}

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless Chromium on a fresh temp profile; close() ends it and removes the profile. */
export async function launchChromium(): Promise<TestBrowser> {
  const executablePath = ensureChromium();
  const profile = await mkdtemp(path.join(os.tmpdir(), 'mp3seg-chromium-'));
  // Playwright refuses --user-data-dir in args; a persistent context on a fresh folder is the same thing.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    // The flags that stop Chromium from reaching for the network (updates, sync, QUIC): on a machine
    // without internet, it otherwise refuses connections. Autoplay without a gesture lets tests call play().
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The stack and the browser a page test needs, started side by side; whichever started is stopped again
 * when the other fails (stop() stops what there is, in any case).
 */
export async function startStackAndBrowser(
  media: { corpus?: boolean } = {},
): Promise<{ t: TestStack; chrome: TestBrowser; stop(): Promise<void> }> {
  const [stack, browser] = await Promise.allSettled([startTestStack({}, media), launchChromium()]);
  const stop = async () => {
    if (browser.status === 'fulfilled') await browser.value.close();
    if (stack.status === 'fulfilled') await stack.value.stop();
  };
  if (stack.status === 'rejected' || browser.status === 'rejected') {
    await stop();
    throw stack.status === 'rejected' ? stack.reason : (browser as PromiseRejectedResult).reason;
  }
  return { t: stack.value, chrome: browser.value, stop };
}
