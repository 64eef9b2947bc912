// Owns the reading of Range / If-Range for a body of known size (RFC 9110 §14). One range is honoured;
// a malformed header or a multi-range request is answered with the whole body, which the RFC allows.

export type RangeAnswer = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

export function resolveRange(size: number, rangeHeader: string | undefined, ifRange: string | undefined, etag: string): RangeAnswer {
  if (rangeHeader === undefined) return { kind: 'full' };
  // If-Range with another validator: the client's partial copy is stale, so send everything.
  if (ifRange !== undefined && ifRange.trim() !== etag) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*([^,]*)$/i.exec(rangeHeader);
  if (!match) return { kind: 'full' };
  const spec = (match[1] ?? '').trim();
  const suffix = /^-(\d+)$/.exec(spec);
  if (suffix) {
    const length = Number(suffix[1]);
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  const bounded = /^(\d+)-(\d*)$/.exec(spec);
  if (!bounded) return { kind: 'full' };
  const start = Number(bounded[1]);
  const last = bounded[2] === '' ? Number.POSITIVE_INFINITY : Number(bounded[2]);
  if (last < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(last, size - 1) };
}

/** True when an If-None-Match header names this entity (weak comparison, as RFC 9110 §13.1.2 asks). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
