// Who may open /admin: the token as a bearer, or a session cookie made from it that expires; nothing else.
import { describe, expect, it } from 'vitest';
import { ADMIN_COOKIE, createAdminAccess } from '../../../src/http/plugins/admin-access.js';

const TOKEN = 'a-token-long-enough-for-admin';

/** The cookie's name=value part, as a browser sends it back. */
function sent(setCookie: string): string {
  return setCookie.split(';')[0] ?? '';
}

describe('admin access', () => {
  const access = createAdminAccess(TOKEN);

  it('accepts the token, and refuses anything else (a prefix, a longer string, nothing)', () => {
    expect(access.accepts(TOKEN)).toBe(true);
    for (const wrong of ['', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) expect(access.accepts(wrong)).toBe(false);
  });

  it('allows a request with the token as a bearer, not with a wrong one or none', () => {
    expect(access.allows({ authorization: `Bearer ${TOKEN}` })).toBe(true);
    expect(access.allows({ authorization: `bearer ${TOKEN}` })).toBe(true);
    expect(access.allows({ authorization: 'Bearer nope' })).toBe(false);
    expect(access.allows({ authorization: `Basic ${TOKEN}` })).toBe(false);
    expect(access.allows({})).toBe(false);
  });

  it('allows a request carrying a new session cookie, among other cookies', () => {
    const cookie = sent(access.newSessionCookie(false));
    expect(access.allows({ cookie })).toBe(true);
    expect(access.allows({ cookie: `theme=dark; ${cookie}; lang=en` })).toBe(true);
  });

  it('makes a session cookie that is not the token, HttpOnly, SameSite=Strict, scoped to /admin, Secure over HTTPS', () => {
    const plain = access.newSessionCookie(false);
    expect(plain).not.toContain(TOKEN);
    expect(plain).toMatch(new RegExp(`^${ADMIN_COOKIE}=\\d+\\.[\\w-]+; Path=/admin; Max-Age=43200; HttpOnly; SameSite=Strict$`));
    expect(access.newSessionCookie(true)).toMatch(/; Secure$/);
  });

  it('refuses a forged, altered or expired cookie, and one made with another token', () => {
    const cookie = sent(access.newSessionCookie(false));
    const [name, value] = cookie.split('=') as [string, string];
    const [expires, signature] = value.split('.') as [string, string];
    expect(access.allows({ cookie: `${name}=${Number(expires) + 3600}.${signature}` })).toBe(false);
    expect(access.allows({ cookie: `${name}=${expires}.${signature.slice(1)}` })).toBe(false);
    expect(access.allows({ cookie: `${name}=${expires}` })).toBe(false);
    expect(access.allows({ cookie: sent(createAdminAccess('another-token-long-enough').newSessionCookie(false)) })).toBe(false);
    const later = createAdminAccess(TOKEN, () => Date.now() + 13 * 3600 * 1000);
    expect(later.allows({ cookie })).toBe(false);
  });

  it('does not let a bad bearer fall back to a good cookie', () => {
    const cookie = sent(access.newSessionCookie(false));
    expect(access.allows({ authorization: 'Bearer wrong', cookie })).toBe(false);
  });
});
