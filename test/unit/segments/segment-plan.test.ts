import { describe, expect, it } from 'vitest';
import { Unprocessable } from '../../../src/errors.js';
import { renderKey } from '../../../src/segments/render-key.js';
import type { RenderOptions } from '../../../src/render/render-spec.js';
import { planSegment } from '../../../src/segments/segment-plan.js';
import type { SegmentRequest } from '../../../src/segments/segment-url.js';

const source = { path: ['demo', 'tones'], size: 540_000, mtimeMs: 1_700_000_000_000, durationMs: 90_000, sampleRate: 44100 };
const limits = { maxSegmentSeconds: 60 };
const copy: RenderOptions = { mode: 'copy' };

function request(startMs: number, endMs: number, options: RenderOptions = copy): SegmentRequest {
  return { source: ['demo', 'tones'], startMs, endMs, options, download: false };
}

function exact(fadeInMs: number, fadeOutMs: number, bitrateKbps = 128): RenderOptions {
  return { mode: 'exact', bitrateKbps, channels: null, fadeInMs, fadeOutMs };
}

function refusal(segment: SegmentRequest): Unprocessable {
  try {
    planSegment(segment, source, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(Unprocessable);
    expect((error as Unprocessable).status).toBe(422);
    return error as Unprocessable;
  }
  throw new Error('planned');
}

describe('planSegment', () => {
  it('brings an exact bit rate to what the source MPEG version carries, so equal bytes share a key', () => {
    const low = { ...source, sampleRate: 8000 };
    const asked = planSegment(request(0, 1_000, exact(0, 0, 128)), low, limits);
    expect(asked.spec.options).toMatchObject({ bitrateKbps: 64 });
    expect(asked.key).toBe(planSegment(request(0, 1_000, exact(0, 0, 64)), low, limits).key);
    expect(planSegment(request(0, 1_000, exact(0, 0, 8)), source, limits).spec.options).toMatchObject({ bitrateKbps: 32 });
    expect(planSegment(request(0, 1_000, exact(0, 0, 320)), { ...source, sampleRate: 22050 }, limits).spec.options).toMatchObject({
      bitrateKbps: 160,
    });
  });

  it('plans a segment inside the source as it was asked, named by its render key', () => {
    const plan = planSegment(request(10_000, 20_500), source, limits);
    const spec = { startMs: 10_000, endMs: 20_500, options: copy, sampleRate: 44100 };
    const identity = { path: source.path, size: source.size, mtimeMs: source.mtimeMs };
    expect(plan).toEqual({ key: renderKey(identity, spec), source: identity, spec });
  });

  it('clamps an end past the source end to the source end', () => {
    const plan = planSegment(request(80_000, 200_000), source, limits);
    expect(plan.spec).toEqual({ startMs: 80_000, endMs: 90_000, options: copy, sampleRate: 44100 });
    expect(plan.key).toBe(planSegment(request(80_000, 90_000), source, limits).key);
  });

  it('answers 422 for a start at the source end', () => {
    expect(refusal(request(90_000, 91_000)).detail).toBe("'start' (90 s) is at or past the end of the source, which lasts 90 s.");
  });

  it('answers 422 for a start past the source end', () => {
    expect(refusal(request(120_500, 130_000)).detail).toBe("'start' (120.5 s) is at or past the end of the source, which lasts 90 s.");
  });

  it('plans the last millisecond of the source', () => {
    expect(planSegment(request(89_999, 100_000), source, limits).spec.endMs).toBe(90_000);
  });

  it('accepts a segment of exactly the longest length and refuses one a millisecond longer', () => {
    expect(planSegment(request(0, 60_000), source, limits).spec.endMs).toBe(60_000);
    expect(refusal(request(0, 60_001)).detail).toBe('The segment lasts 60.001 s; segments may last at most 60 s.');
  });

  it('measures the length after clamping to the source end', () => {
    expect(planSegment(request(30_000, 1_000_000), source, limits).spec).toEqual({
      startMs: 30_000,
      endMs: 90_000,
      options: copy,
      sampleRate: 44100,
    });
  });

  it('accepts fades that fill the segment exactly', () => {
    expect(planSegment(request(0, 10_000, exact(4_000, 6_000)), source, limits).spec.options).toEqual(exact(4_000, 6_000));
  });

  it('answers 422 for fades longer than the segment', () => {
    expect(refusal(request(0, 10_000, exact(4_000, 6_001))).detail).toBe(
      'fade_in + fade_out (10.001 s) is longer than the segment (10 s).',
    );
  });

  it('compares fades with the clamped segment', () => {
    expect(refusal(request(85_000, 100_000, exact(0, 6_000))).detail).toBe('fade_in + fade_out (6 s) is longer than the segment (5 s).');
  });
});
