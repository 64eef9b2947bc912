// Signed URLs on the real stack: with SIGNING_KEY, only a URL carrying its own signature is served (and
// cached by nginx); anything else is 403 before a redirect or a lookup could reveal what exists. After a
// key rotation (the stack started again on the same DATA_DIR), no cached answer of the old key is served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configToEnv, parseConfig } from '../../src/config.js';
import { canonicalSegmentUrl, parseSegmentPath } from '../../src/segments/segment-url.js';
import { type Stack, startStack } from '../../src/stack/stack.js';
import { signatureFor, signedUrl } from '../../src/segments/url-signature.js';
import { readMp3 } from '../helpers/mp3-frames.js';
import { getBytes, startTestStack, type TestStack } from '../helpers/test-stack.js';

const KEY = 'test-signing-key-of-some-length';
const ROTATED_KEY = 'the-next-signing-key-after-rotation';
let t: TestStack;
/** The stack started again on t's DATA_DIR with the rotated key, once a test did. */
let rotated: Stack | undefined;

/** Signed as the CLI signs: the canonical URL, then its signature. */
function sign(path: string, options: { mode: 'copy' } = { mode: 'copy' }, key = KEY): string {
  const canonical = canonicalSegmentUrl({ ...parseSegmentPath(path), options, download: false });
  return signedUrl(canonical, signatureFor(canonical, key));
}

beforeAll(async () => {
  t = await startTestStack({ SIGNING_KEY: KEY });
});
afterAll(async () => {
  await rotated?.stop();
  await t?.stop();
});

async function expectForbidden(url: string, detail: RegExp): Promise<void> {
  const { response, body } = await getBytes(url);
  expect(response.status).toBe(403);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(JSON.parse(body.toString()).detail).toMatch(detail);
}

describe('with SIGNING_KEY set', () => {
  const path = '/segments/demo/tones/10-12.mp3';

  it('a signed URL through nginx is served, then is an nginx HIT', async () => {
    const first = await getBytes(t.url + sign(path));
    expect(first.response.status).toBe(200);
    expect(Math.abs(readMp3(first.body).durationSeconds - 2)).toBeLessThanOrEqual(2 * (1152 / 44100));
    const second = await getBytes(t.url + sign(path));
    expect(second.response.headers.get('x-cache-status')).toBe('HIT');
    expect(second.body.equals(first.body)).toBe(true);
  });

  it('a Range request on a signed URL answers 206', async () => {
    const { response, body } = await getBytes(t.url + sign(path), { headers: { range: 'bytes=0-99' } });
    expect(response.status).toBe(206);
    expect(body.length).toBe(100);
  });

  it('an unsigned URL is 403, through nginx and at the API, even for a source that does not exist', async () => {
    for (const base of [t.url, t.apiUrl]) {
      await expectForbidden(base + path, /serves signed URLs only/);
      await expectForbidden(`${base}/segments/no/such/source/1-2.mp3`, /serves signed URLs only/);
    }
  });

  it("a wrong signature, another segment's signature, or a tampered query is 403", async () => {
    await expectForbidden(`${t.url}${path}?sig=${'A'.repeat(43)}`, /does not match this URL/);
    const other = sign('/segments/demo/tones/10-13.mp3');
    await expectForbidden(`${t.url}${path}?${other.split('?')[1]}`, /does not match this URL/);
    await expectForbidden(`${t.url}${path}?mode=exact&${sign(path).split('?')[1]}`, /does not match this URL/);
  });

  it('a correctly signed but non-canonical spelling is redirected (308) to the canonical URL, signature kept', async () => {
    const signed = sign(path);
    const { response } = await getBytes(`${t.url}/segments/demo/tones/010-12.000.mp3?${signed.split('?')[1]}`);
    expect(response.status).toBe(308);
    expect(response.headers.get('location')).toBe(signed);
  });
});

describe('after the signing key is rotated', () => {
  const path = '/segments/demo/tones/20-22.mp3';

  it("the old key's URLs are 403, never an nginx HIT, and render ids change with the key", async () => {
    const old = await getBytes(t.url + sign(path));
    expect(old.response.status).toBe(200);
    expect((await getBytes(t.url + sign(path))).response.headers.get('x-cache-status')).toBe('HIT');
    const oldId = ((await (await fetch(t.url + sign(path), { headers: { prefer: 'respond-async' } })).json()) as { id: string }).id;
    await t.stack.stop();
    rotated = await startStack(parseConfig({ ...configToEnv(t.config), SIGNING_KEY: ROTATED_KEY }), (name, line) =>
      t.logs.push(`${name}: ${line}`),
    );
    await expectForbidden(t.url + sign(path), /does not match this URL/);
    const renewed = await getBytes(t.url + sign(path, { mode: 'copy' }, ROTATED_KEY));
    expect(renewed.response.status).toBe(200);
    expect(renewed.body.equals(old.body)).toBe(true);
    const newId = (
      (await (await fetch(t.url + sign(path, { mode: 'copy' }, ROTATED_KEY), { headers: { prefer: 'respond-async' } })).json()) as {
        id: string;
      }
    ).id;
    expect(newId).not.toBe(oldId);
    expect((await fetch(`${t.url}/renders/${oldId}`)).status).toBe(404);
  });
});

describe('without SIGNING_KEY', () => {
  it('a sig parameter is dropped by a redirect to the unsigned canonical URL', async () => {
    const plain = await startTestStack();
    try {
      const { response } = await getBytes(`${plain.url}/segments/demo/tones/10-12.mp3?sig=${'A'.repeat(43)}`);
      expect(response.status).toBe(308);
      expect(response.headers.get('location')).toBe('/segments/demo/tones/10-12.mp3');
    } finally {
      await plain.stop();
    }
  });
});
