// Owns the order in which queued renders are taken: by class (a client waiting for the bytes now, then
// asynchronous asks, then background work such as warming), within a class by the ask's urgency (RFC
// 9218, 0 most urgent to 7), and among waiting clients' renders of one urgency by how many clients wait
// (more first, counted up to WAITER_LEVELS). The result is a BullMQ job priority (lower runs first); jobs
// of one priority run in the order they were added.
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

/** How many waiting clients still move a render ahead of those with fewer: 16 or more count alike. */
export const WAITER_LEVELS = 16;

/**
 * Each class's first priority, so classes never mix: urgency is added within it (8 levels), and for waiting
 * clients each urgency is a band of WAITER_LEVELS priorities (1 to 128), one per number of waiters.
 */
const CLASS_BASE: Record<RenderClass, number> = { interactive: 1, async: 8 * WAITER_LEVELS + 11, background: 8 * WAITER_LEVELS + 21 };

/** True for a priority of the interactive class: a render only waiting clients asked for, so far. */
export function isInteractivePriority(priority: number): boolean {
  return priority >= CLASS_BASE.interactive && priority < CLASS_BASE.async;
}

/** True for a priority of the background class (warming). */
export function isBackgroundPriority(priority: number): boolean {
  return priority >= CLASS_BASE.background;
}

export function renderClassOf(ask: RenderAsk): RenderClass {
  if (ask.urgency >= BACKGROUND_URGENCY) return 'background';
  return ask.waiting ? 'interactive' : 'async';
}

/**
 * The BullMQ job priority of an ask, for one waiting client: 16 (a waiting client, urgency 0; down to 1
 * with 16 waiting) to 112 (urgency 6), then 139-146 (asynchronous), 156 (background).
 */
export function jobPriorityOf(ask: RenderAsk): number {
  const urgency = Math.min(7, Math.max(0, Math.trunc(ask.urgency)));
  const renderClass = renderClassOf(ask);
  if (renderClass !== 'interactive') return CLASS_BASE[renderClass] + urgency;
  return CLASS_BASE.interactive + urgency * WAITER_LEVELS + (WAITER_LEVELS - 1);
}

/** A waiting client's priority (one waiter) moved ahead within its urgency for `waiters` clients; others as they are. */
export function withWaiters(priority: number, waiters: number): number {
  if (!isInteractivePriority(priority)) return priority;
  const band = Math.floor((priority - CLASS_BASE.interactive) / WAITER_LEVELS);
  const bandTop = CLASS_BASE.interactive + band * WAITER_LEVELS + (WAITER_LEVELS - 1);
  return bandTop - (Math.min(Math.max(1, waiters), WAITER_LEVELS) - 1);
}

/** Every job priority of each class, for counting the queue by class (queue-depth.ts). */
export const CLASS_PRIORITIES: Record<RenderClass, number[]> = {
  interactive: Array.from({ length: 8 * WAITER_LEVELS }, (_, step) => CLASS_BASE.interactive + step),
  async: Array.from({ length: 8 }, (_, urgency) => CLASS_BASE.async + urgency),
  background: Array.from({ length: 8 }, (_, urgency) => CLASS_BASE.background + urgency),
};
