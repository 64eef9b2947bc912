// Owns which address the origin's requests connect to. The host name is resolved, and the answer pinned
// for a minute: within that minute no DNS change moves reads to another address, and after it a moved
// origin (a CDN or an object store rotating its addresses) is followed without a restart. A connection
// that fails at once (refused, unreachable) unpins at once, so the next try resolves again; a lookup that
// fails keeps the last address that served. Rebinding is
// refused: once the origin's name has resolved to a public address, a later answer that is private,
// loopback or link-local is not used (the last good address is kept). An origin that starts out on a
// private network is the operator's own choice and may move within it.
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface PinnedAddress {
  address: string;
  family: number;
}

export interface OriginAddress {
  /** The address to connect to now. */
  current(): Promise<PinnedAddress>;
  /** A connection to `address` failed before any answer: look the name up again on the next request. */
  failed(address: string): void;
}

/** How long an answer is used before the name is looked up again. */
export const PIN_MS = 60_000;

/** Connection errors that say this address does not serve now (the host moved, or is down). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export function isUnreachable(error: unknown): boolean {
  return UNREACHABLE.has((error as NodeJS.ErrnoException).code ?? '');
}

/** Addresses a public name must never come to mean: this machine, private networks, link-local. */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const)
  NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');

export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return !NOT_PUBLIC.check(mapped, 'ipv4');
  return !NOT_PUBLIC.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

export function createOriginAddress(
  hostname: string,
  options: { lookup?: (hostname: string) => Promise<PinnedAddress>; now?: () => number } = {},
): OriginAddress {
  const family = isIP(hostname);
  // An address in MEDIA_ORIGIN is the address: nothing to look up.
  if (family !== 0) return { current: async () => ({ address: hostname, family }), failed: () => undefined };
  const lookup = options.lookup ?? ((name: string) => dnsLookup(name));
  const now = options.now ?? Date.now;
  let pinned: { answer: Promise<PinnedAddress>; until: number } | undefined;
  /** The last answer used, and whether the name has meant a public address. */
  let lastGood: PinnedAddress | undefined;
  let wasPublic = false;

  async function resolve(): Promise<PinnedAddress> {
    let answer: PinnedAddress;
    try {
      answer = await lookup(hostname);
    } catch (error) {
      // A DNS blip: the address that served last goes on serving (a dead one fails its connection, which
      // unpins it). With none yet, the request fails (a 503 naming the origin).
      if (lastGood) return lastGood;
      throw error;
    }
    const isPublic = isPublicAddress(answer.address);
    if (lastGood && wasPublic && !isPublic) return lastGood; // rebinding: refused
    wasPublic ||= isPublic;
    lastGood = answer;
    return answer;
  }

  return {
    current() {
      if (pinned && now() < pinned.until) return pinned.answer;
      const answer = resolve();
      pinned = { answer, until: now() + PIN_MS };
      // A failed first lookup is not pinned: the next request resolves again.
      answer.catch(() => {
        if (pinned?.answer === answer) pinned = undefined;
      });
      return answer;
    },
    failed(address) {
      if (lastGood?.address === address) pinned = undefined;
    },
  };
}
