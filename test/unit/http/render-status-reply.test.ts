import { describe, expect, it } from 'vitest';
import { prefersAsync, statusBody } from '../../../src/http/render-status-reply.js';
import { signatureFor } from '../../../src/segments/url-signature.js';

const id = 'a'.repeat(32);
const stored = {
  key: id,
  source: 'My%20Show/ep%201',
  startMs: 10_000,
  endMs: 20_500,
  mode: 'exact',
  options: { mode: 'exact' as const, bitrateKbps: 64, channels: null, fadeInMs: 0, fadeOutMs: 0 },
  bytes: 1,
  durationSeconds: 10.5,
  renderedAt: '',
};

describe('prefersAsync (Prefer header, RFC 7240)', () => {
  it('finds respond-async among other preferences, in any case, with parameters', () => {
    expect(prefersAsync('respond-async')).toBe(true);
    expect(prefersAsync('return=minimal, Respond-Async; foo=1')).toBe(true);
    expect(prefersAsync(['wait=5', 'respond-async'])).toBe(true);
  });

  it('is false without it', () => {
    expect(prefersAsync(undefined)).toBe(false);
    expect(prefersAsync('return=representation')).toBe(false);
    expect(prefersAsync('x-respond-async')).toBe(false);
  });
});

describe('statusBody', () => {
  const context = { download: false, signingKey: undefined };

  it('names a done render by its canonical segment URL, with download when asked', () => {
    expect(statusBody(id, { status: 'done', render: stored }, context)).toEqual({
      id,
      status: 'done',
      segment: '/segments/My%20Show/ep%201/10-20.5.mp3?mode=exact&bitrate=64',
    });
    expect(statusBody(id, { status: 'done', render: stored }, { ...context, download: true }).segment).toBe(
      '/segments/My%20Show/ep%201/10-20.5.mp3?mode=exact&bitrate=64&download=1',
    );
  });

  it('signs the segment URL where URLs are signed', () => {
    const key = 'k'.repeat(16);
    const url = '/segments/My%20Show/ep%201/10-20.5.mp3?mode=exact&bitrate=64';
    expect(statusBody(id, { status: 'done', render: stored }, { download: false, signingKey: key }).segment).toBe(
      `${url}&sig=${signatureFor(url, key)}`,
    );
  });

  it('writes a copy stored before renders recorded their options; an exact one is done without a URL', () => {
    const { options: _, ...old } = stored;
    expect(statusBody(id, { status: 'done', render: { ...old, mode: 'copy' } }, context).segment).toBe(
      '/segments/My%20Show/ep%201/10-20.5.mp3',
    );
    expect(statusBody(id, { status: 'done', render: old }, context)).toEqual({ id, status: 'done' });
  });

  it('gives a failed render the problem its segment URL would answer', () => {
    expect(statusBody(id, { status: 'failed', failure: { status: 422, detail: 'damaged', permanent: true } }, context)).toEqual({
      id,
      status: 'failed',
      problem: { type: 'urn:mp3-segments:problem:unprocessable', title: 'Cannot render this segment', status: 422, detail: 'damaged' },
    });
  });

  it('carries the percent only once ffmpeg has reported one', () => {
    expect(statusBody(id, { status: 'rendering' }, context)).toEqual({ id, status: 'rendering' });
    expect(statusBody(id, { status: 'rendering', percent: 40 }, context)).toEqual({ id, status: 'rendering', percent: 40 });
    expect(statusBody(id, { status: 'queued' }, context)).toEqual({ id, status: 'queued' });
  });
});
