// Owns who may open /admin: a request carries ADMIN_TOKEN as `Authorization: Bearer <token>` (curl,
// scripts), or the session cookie that POST /admin/login sets for a browser, so the board's own pages,
// assets and API calls pass too. Secrets are compared in constant time; the cookie is not the token but an
// expiring HMAC of it, so a leaked cookie stops working after SESSION_SECONDS or when the token changes.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const ADMIN_COOKIE = 'mp3_segments_admin';
/** A browser session lasts one working night; then log in again. */
const SESSION_SECONDS = 12 * 3600;

export interface AdminAccess {
  /** The token itself, as typed into the login form. */
  accepts(token: string): boolean;
  /** A bearer token or a live session cookie. */
  allows(headers: IncomingHttpHeaders): boolean;
  /** Set-Cookie value of a new session; `secure` when the browser reached us over HTTPS. */
  newSessionCookie(secure: boolean): string;
}

/** Hashing both sides first makes the comparison constant-time whatever the lengths. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

export function createAdminAccess(token: string, now: () => number = Date.now): AdminAccess {
  const sign = (expiresAt: number) => createHmac('sha256', token).update(`admin-session:${expiresAt}`).digest('base64url');

  function liveSession(cookie: string | undefined): boolean {
    const [expires, signature] = cookie?.split('.') ?? [];
    const expiresAt = Number(expires);
    if (!signature || !Number.isSafeInteger(expiresAt) || expiresAt * 1000 < now()) return false;
    return sameSecret(signature, sign(expiresAt));
  }

  return {
    accepts: (given) => sameSecret(given, token),
    allows(headers) {
      const bearer = /^Bearer (.+)$/i.exec(headers.authorization ?? '')?.[1];
      if (bearer !== undefined) return sameSecret(bearer.trim(), token);
      return liveSession(cookieValue(headers.cookie, ADMIN_COOKIE));
    },
    newSessionCookie(secure) {
      const expiresAt = Math.floor(now() / 1000) + SESSION_SECONDS;
      // SameSite=Strict: a page of another site cannot make the browser send it along.
      const attributes = [`Path=/admin`, `Max-Age=${SESSION_SECONDS}`, 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
      return [`${ADMIN_COOKIE}=${expiresAt}.${sign(expiresAt)}`, ...attributes].join('; ');
    },
  };
}
