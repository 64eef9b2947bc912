// Signed URLs: HMAC-SHA256 over the canonical URL, base64url, compared in constant time.
import { describe, expect, it } from 'vitest';
import { Forbidden } from '../../../src/errors.js';
import { requireSignature, signatureFor, signedUrl, verifySignature } from '../../../src/segments/url-signature.js';

const KEY = '0123456789abcdef-secret';
const URL_ = '/segments/demo/tones/10-20.5.mp3?mode=exact';
// Computed independently: printf '%s' "$URL" | openssl dgst -sha256 -hmac "$KEY" -binary | base64 | tr '+/' '-_' | tr -d '='
const KNOWN = 'HqBsxaCMU6QBEZoeij0US_57mcGzA3Rv_lKiWLTVMbc';

describe('url signature', () => {
  it('is HMAC-SHA256 of the canonical URL in base64url without padding (openssl gives the same)', () => {
    expect(signatureFor(URL_, KEY)).toBe(KNOWN);
  });

  it('goes last in the query', () => {
    expect(signedUrl(URL_, KNOWN)).toBe(`${URL_}&sig=${KNOWN}`);
    expect(signedUrl('/segments/demo/tones/1-2.mp3', 'x')).toBe('/segments/demo/tones/1-2.mp3?sig=x');
  });

  it('verifies only the URL and key it was made for', () => {
    expect(verifySignature(URL_, KNOWN, KEY)).toBe(true);
    expect(verifySignature(URL_, KNOWN, `${KEY}x`)).toBe(false);
    expect(verifySignature('/segments/demo/tones/10-20.6.mp3?mode=exact', KNOWN, KEY)).toBe(false);
    expect(verifySignature(URL_.replace('exact', 'copy'), KNOWN, KEY)).toBe(false);
  });

  it('refuses a changed character anywhere in the signature, a short one, or one that is not base64url', () => {
    for (let i = 0; i < KNOWN.length; i++) {
      const changed = KNOWN.slice(0, i) + (KNOWN[i] === 'A' ? 'B' : 'A') + KNOWN.slice(i + 1);
      expect(verifySignature(URL_, changed, KEY)).toBe(false);
    }
    expect(verifySignature(URL_, KNOWN.slice(1), KEY)).toBe(false);
    expect(verifySignature(URL_, `${KNOWN.slice(1)}=`, KEY)).toBe(false);
    expect(verifySignature(URL_, KNOWN.replace('_', '/'), KEY)).toBe(false);
    expect(verifySignature(URL_, undefined, KEY)).toBe(false);
  });

  it('a missing or wrong signature is 403 with a detail that says how to sign', () => {
    expect(() => requireSignature(URL_, undefined, KEY)).toThrow(Forbidden);
    expect(() => requireSignature(URL_, undefined, KEY)).toThrow(/serves signed URLs only.*segments sign/);
    expect(() => requireSignature(URL_, 'A'.repeat(43), KEY)).toThrow(
      /does not match this URL; sign its canonical form \/segments\/demo\/tones\/10-20.5.mp3\?mode=exact/,
    );
    expect(requireSignature(URL_, KNOWN, KEY)).toBe(KNOWN);
  });
});
