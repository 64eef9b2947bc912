// Owns reading the Priority request header (RFC 9218, a Structured Fields dictionary such as "u=5, i"):
// its urgency, 0 (most urgent) to 7 (background). A missing, malformed or out-of-range urgency is the
// default, as the RFC asks of a receiver (it never refuses a request for its priority).
import { DEFAULT_URGENCY } from '../queue/render-priority.js';

export function urgencyOf(header: string | string[] | undefined): number {
  const text = Array.isArray(header) ? header.join(',') : header;
  if (!text) return DEFAULT_URGENCY;
  let urgency = DEFAULT_URGENCY;
  for (const member of text.split(',')) {
    const [key = '', value] = member.split('=', 2);
    if (key.trim() !== 'u') continue;
    // A member is key=value;params; the last u wins, as in a Structured Fields dictionary.
    const digits = value?.split(';', 1)[0]?.trim() ?? '';
    urgency = /^[0-7]$/.test(digits) ? Number(digits) : DEFAULT_URGENCY;
  }
  return urgency;
}
