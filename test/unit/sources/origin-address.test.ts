// Which address the origin's requests go to: pinned for a minute, followed when it moves, unpinned by a
// refused connection, kept through a DNS blip, and never rebound from a public address to a private one.
import { describe, expect, it } from 'vitest';
import { createOriginAddress, isPublicAddress, PIN_MS, type PinnedAddress } from '../../../src/sources/origin-address.js';

/** A name server scripted per test: each lookup takes the next answer (an Error is thrown). */
function scripted(...answers: Array<string | Error>) {
  const asked: string[] = [];
  const lookup = async (name: string): Promise<PinnedAddress> => {
    asked.push(name);
    const next = answers.length > 1 ? answers.shift()! : answers[0]!;
    if (next instanceof Error) throw next;
    return { address: next, family: next.includes(':') ? 6 : 4 };
  };
  return { lookup, asked };
}

function clock() {
  let ms = 1_000_000;
  return { now: () => ms, pass: (by: number) => (ms += by) };
}

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['172.32.0.1', true],
    ['2606:4700::1111', true],
    ['::ffff:8.8.8.8', true],
    ['10.1.2.3', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['127.0.0.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['::1', false],
    ['fe80::1', false],
    ['fd00::1', false],
    ['::ffff:10.0.0.1', false],
    ['not an address', false],
  ])('%s: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('the origin address', () => {
  it('is looked up once a minute, and a moved origin is followed after it', async () => {
    const dns = scripted('203.0.113.5', '198.51.100.7');
    const time = clock();
    const origin = createOriginAddress('media.example', { lookup: dns.lookup, now: time.now });
    expect(await origin.current()).toEqual({ address: '203.0.113.5', family: 4 });
    time.pass(PIN_MS - 1);
    expect((await origin.current()).address).toBe('203.0.113.5');
    expect(dns.asked).toEqual(['media.example']);
    time.pass(1);
    expect((await origin.current()).address).toBe('198.51.100.7');
    expect(dns.asked).toHaveLength(2);
  });

  it('once public, refuses an answer that rebinds the name to this machine or a private network: the last good address stays', async () => {
    const dns = scripted('203.0.113.5', '127.0.0.1', '169.254.169.254', '198.51.100.7');
    const time = clock();
    const origin = createOriginAddress('media.example', { lookup: dns.lookup, now: time.now });
    expect((await origin.current()).address).toBe('203.0.113.5');
    for (const _ of [1, 2]) {
      time.pass(PIN_MS);
      expect((await origin.current()).address).toBe('203.0.113.5');
    }
    time.pass(PIN_MS);
    expect((await origin.current()).address).toBe('198.51.100.7');
    expect(dns.asked).toHaveLength(4);
  });

  it("an origin on the operator's private network may move within it", async () => {
    const dns = scripted('10.0.0.1', '10.0.0.2');
    const time = clock();
    const origin = createOriginAddress('media.internal', { lookup: dns.lookup, now: time.now });
    expect((await origin.current()).address).toBe('10.0.0.1');
    time.pass(PIN_MS);
    expect((await origin.current()).address).toBe('10.0.0.2');
  });

  it('a connection refused at the pinned address unpins it at once; one to another address does not', async () => {
    const dns = scripted('10.0.0.1', '10.0.0.2');
    const origin = createOriginAddress('media.internal', { lookup: dns.lookup, now: clock().now });
    await origin.current();
    origin.failed('10.0.0.9');
    expect((await origin.current()).address).toBe('10.0.0.1');
    origin.failed('10.0.0.1');
    expect((await origin.current()).address).toBe('10.0.0.2');
    expect(dns.asked).toHaveLength(2);
  });

  it('a lookup that fails keeps the address that served; with none yet it fails, and the next request looks up again', async () => {
    const dns = scripted(new Error('EAI_AGAIN'), '10.0.0.1', new Error('EAI_AGAIN'));
    const time = clock();
    const origin = createOriginAddress('media.internal', { lookup: dns.lookup, now: time.now });
    await expect(origin.current()).rejects.toThrow('EAI_AGAIN');
    expect((await origin.current()).address).toBe('10.0.0.1');
    time.pass(PIN_MS);
    expect((await origin.current()).address).toBe('10.0.0.1');
    expect(dns.asked).toHaveLength(3);
  });

  it('an address in MEDIA_ORIGIN is never looked up', async () => {
    const dns = scripted('10.0.0.1');
    const origin = createOriginAddress('::1', { lookup: dns.lookup });
    expect(await origin.current()).toEqual({ address: '::1', family: 6 });
    expect(dns.asked).toEqual([]);
  });
});
