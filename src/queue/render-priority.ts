// Owns the order in which queued renders are taken: by class (a client waiting for the bytes now, then
// asynchronous asks, then background work such as warming), and within a class by the ask's urgency
// (RFC 9218, 0 most urgent to 7). The result is a BullMQ job priority (lower runs first); jobs of one
// priority run in the order they were added.
/** RFC 9218's default urgency, for an ask that names none. */
export const DEFAULT_URGENCY = 3;
/** The urgency RFC 9218 reserves for background work: such an ask is of the background class. */
export const BACKGROUND_URGENCY = 7;

export type RenderClass = 'interactive' | 'async' | 'background';

/** What decides a render's place in the queue. */
export interface RenderAsk {
  /** True when the client holds its request open for the bytes (a segment GET without Prefer: respond-async). */
  waiting: boolean;
  /** 0 (most urgent) to 7 (background). */
  urgency: number;
}

/** Each class's first priority; urgency is added within it (8 levels), so classes never mix. */
const CLASS_BASE: Record<RenderClass, number> = { interactive: 1, async: 11, background: 21 };

/** True for a priority of the interactive class: a render only waiting clients asked for, so far. */
export function isInteractivePriority(priority: number): boolean {
  return priority >= CLASS_BASE.interactive && priority < CLASS_BASE.async;
}

export function renderClassOf(ask: RenderAsk): RenderClass {
  if (ask.urgency >= BACKGROUND_URGENCY) return 'background';
  return ask.waiting ? 'interactive' : 'async';
}

/** The BullMQ job priority of an ask: 1 (a waiting client, urgency 0) to 28 (background, urgency 7). */
export function jobPriorityOf(ask: RenderAsk): number {
  const urgency = Math.min(7, Math.max(0, Math.trunc(ask.urgency)));
  return CLASS_BASE[renderClassOf(ask)] + urgency;
}
