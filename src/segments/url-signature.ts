// Owns signed segment URLs (optional per deployment, like imgproxy's): the signature is HMAC-SHA256 with
// SIGNING_KEY over the canonical URL's path and query (the signature itself left out), base64url without
// padding, carried as the last query parameter `sig`. Verification compares in constant time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Forbidden } from '../errors.js';

export const SIGNATURE_PARAMETER = 'sig';
/** 32 bytes of HMAC-SHA256 in base64url, no padding. */
export const SIGNATURE_PATTERN = '^[A-Za-z0-9_-]{43}$';

/** The signature of a canonical URL (path and query, e.g. `/segments/demo/tones/10-20.mp3?mode=exact`). */
export function signatureFor(canonicalUrl: string, key: string): string {
  return createHmac('sha256', key).update(canonicalUrl).digest('base64url');
}

/** The canonical URL with its signature appended as the last query parameter. */
export function signedUrl(canonicalUrl: string, signature: string): string {
  return `${canonicalUrl}${canonicalUrl.includes('?') ? '&' : '?'}${SIGNATURE_PARAMETER}=${signature}`;
}

/** A canonical URL as this deployment hands it out: signed with its key, as it is without one. */
export function publishedUrl(canonicalUrl: string, key: string | undefined): string {
  return key ? signedUrl(canonicalUrl, signatureFor(canonicalUrl, key)) : canonicalUrl;
}

/** True when `signature` is the one `key` gives `canonicalUrl`. */
export function verifySignature(canonicalUrl: string, signature: string | undefined, key: string): boolean {
  if (signature === undefined || !new RegExp(SIGNATURE_PATTERN).test(signature)) return false;
  const expected = Buffer.from(signatureFor(canonicalUrl, key));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The URL's signature when it is right for `canonicalUrl`; otherwise 403, saying how to sign. */
export function requireSignature(canonicalUrl: string, signature: string | undefined, key: string): string {
  if (signature === undefined) {
    throw new Forbidden(
      `This service serves signed URLs only: add ${SIGNATURE_PARAMETER}= (HMAC-SHA256 of the canonical URL, base64url) as the last query parameter; \`segments sign <url>\` prints one.`,
    );
  }
  if (!verifySignature(canonicalUrl, signature, key)) {
    throw new Forbidden(
      `The signature does not match this URL; sign its canonical form ${canonicalUrl.slice(0, 300)} (\`segments sign <url>\` prints it signed).`,
    );
  }
  return signature;
}

/**
 * A fingerprint that names a signing key without revealing it ('unsigned' without one): recorded beside
 * what was made under a key (renders, nginx's cache), so that what a rotated key made is never served again.
 */
export function signingKeyFingerprint(key: string | undefined): string {
  if (key === undefined) return 'unsigned';
  return createHash('sha256').update('mp3-segments signing key fingerprint\n').update(key).digest('hex').slice(0, 16);
}
