// Owns the number grammar of {start}, {end} and the fade options: decimal seconds with at most three
// fraction digits, held as whole milliseconds so equal numbers compare equal and keys never see a float.
import { BadRequest } from '../errors.js';

/** The canonical spelling is written by canonical-url.ts (the clip picker runs it in the browser too). */
export { formatSeconds } from './canonical-url.js';

/** Largest time accepted anywhere in a URL: about 115 days, far past any real source. */
export const MAX_SECONDS = 9_999_999;

/** Loose shape accepted before the exact checks; route schemas reuse it. */
export const SECONDS_PATTERN = '^[0-9]{0,16}(\\.[0-9]{0,16})?$';

/** Parses "90", "090", "90.50", ".5" (all accepted; only the canonical spelling avoids a redirect). */
export function parseSeconds(text: string, name: string): number {
  const match = /^(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || !/\d/.test(text) || text.length > 33) {
    throw new BadRequest(`'${name}' must be a number of seconds such as 90 or 754.5 (got '${truncate(text)}').`);
  }
  const whole = (match[1] ?? '').replace(/^0+/, '');
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > 3) {
    throw new BadRequest(`'${name}' may have at most three fraction digits (milliseconds); got '${truncate(text)}'.`);
  }
  if (whole.length > String(MAX_SECONDS).length || Number(whole) > MAX_SECONDS) {
    throw new BadRequest(`'${name}' must be at most ${MAX_SECONDS} seconds (got '${truncate(text)}').`);
  }
  return Number(whole || '0') * 1000 + Number(fraction.padEnd(3, '0'));
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
