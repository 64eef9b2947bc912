import { describe, expect, it } from 'vitest';
import { urgencyOf } from '../../../src/http/priority-header.js';
import { BACKGROUND_URGENCY, DEFAULT_URGENCY, jobPriorityOf, renderClassOf } from '../../../src/queue/render-priority.js';

describe('the Priority header (RFC 9218)', () => {
  it.each<[string | string[] | undefined, number]>([
    [undefined, DEFAULT_URGENCY],
    ['', DEFAULT_URGENCY],
    ['u=0', 0],
    ['u=7', 7],
    ['i', DEFAULT_URGENCY],
    ['u=5, i', 5],
    ['i, u=1', 1],
    [' u = 2 ', 2],
    ['u=6;x=1', 6],
    ['u=1, u=4', 4],
    [['i', 'u=2'], 2],
  ])('%j gives urgency %i', (header, urgency) => {
    expect(urgencyOf(header)).toBe(urgency);
  });

  it.each(['u=8', 'u=-1', 'u=1.5', 'u=x', 'u=', 'u=?1', 'u=07'])('%j is out of range or malformed: the default urgency', (header) => {
    expect(urgencyOf(header)).toBe(DEFAULT_URGENCY);
  });
});

describe('the order of render classes', () => {
  it('puts a waiting client before an asynchronous ask before background work, whatever the urgency within', () => {
    const order = [
      ...[0, 3, 6].map((urgency) => jobPriorityOf({ waiting: true, urgency })),
      ...[0, 3, 6].map((urgency) => jobPriorityOf({ waiting: false, urgency })),
      ...[true, false].map((waiting) => jobPriorityOf({ waiting, urgency: BACKGROUND_URGENCY })),
    ];
    // Strictly rising but for the two background asks, which share a priority: BullMQ runs lower first.
    // A waiting client's urgency is a band of 16 priorities (one per number of waiters, render-priority.ts).
    expect(order).toEqual([16, 64, 112, 139, 142, 145, 156, 156]);
    expect(renderClassOf({ waiting: true, urgency: 7 })).toBe('background');
    expect(renderClassOf({ waiting: true, urgency: 6 })).toBe('interactive');
    expect(renderClassOf({ waiting: false, urgency: 0 })).toBe('async');
  });
});
