// Owns what is known about each source: resolved safely, described once, and kept in an LRU keyed by real
// path, size and mtime, so a replaced file is described again and an unchanged one never is. A source is
// described from its frame index (shared with the workers, on disk beside the store: its gapless sample
// count, rate and channels), so the API runs no ffprobe for it; only a source the index refuses (junk,
// truncation, VBRI, free format) is probed by ffprobe.
import { LRUCache } from 'lru-cache';
import { SourceNotFound, Unavailable, Unprocessable } from '../errors.js';
import { type AudioProbe, ProbeTimedOut, ToolPassingFault } from '../media/ffmpeg.js';
import type { FrameIndex } from '../media/frame-index.js';
import { systemErrorCode } from '../media/fault-kind.js';
import { readGaplessInfo } from '../media/mp3-frame.js';
import { gaplessDurationMs } from '../media/sample-cut.js';
import type { FrameIndexes } from '../render/frame-indexes.js';
import { fileVersion, isRemote } from '../media/source-file.js';
import { type SourcePath, sourceLabel } from '../segments/segment-url.js';
import type { OriginClient } from './origin-client.js';
import { realMediaRoot, resolveSource, type ResolvedSource } from './resolve-source.js';

export interface SourceFacts extends ResolvedSource {
  durationMs: number;
  sampleRate: number;
  channels: number;
  bitRate: number;
}

export interface Catalog {
  describe(source: SourcePath): Promise<SourceFacts>;
}

type ProbeOutcome =
  | { ok: true; probe: AudioProbe; gaplessSeconds: number | null }
  /** Described by its frame index (only its facts are kept: an hour's index is 1.1 MB). */
  | { ok: true; facts: IndexedFacts }
  /** ffprobe read the file and refused it as audio: remembered, like a success, until the file changes. */
  | { ok: false; reason: string }
  /**
   * The probe itself did not finish (time limit, a signal, a spawn that failed under EMFILE, a read error):
   * says nothing about the file, never remembered.
   */
  | { ok: false; transient: true; timedOut: boolean; reason: string };

/** How long a source's resolution (real path, size, mtime) is trusted before it is looked at again. */
export const RESOLVE_TTL_MS = 1_000;

export async function createCatalog(deps: {
  mediaRoot: string;
  /** Set when sources live on the HTTP origin (MEDIA_ORIGIN): looked up there instead of under mediaRoot. */
  origin?: Pick<OriginClient, 'resolve'>;
  probe: (file: string) => Promise<AudioProbe>;
  /** Where sources' frame indexes come from (render/frame-indexes.ts); without it, every source is probed. */
  frameIndexes?: Pick<FrameIndexes, 'indexFor'>;
  maxEntries?: number;
  /** How long a resolution is reused; RESOLVE_TTL_MS unless given. */
  resolveTtlMs?: number;
}): Promise<Catalog> {
  const root = deps.origin ? '' : await realMediaRoot(deps.mediaRoot);
  // Holds promises, so concurrent first requests for one source share one probe.
  const probes = new LRUCache<string, Promise<ProbeOutcome>>({ max: deps.maxEntries ?? 10_000 });

  function probeOnce(resolved: ResolvedSource): Promise<ProbeOutcome> {
    const key = fileVersion(resolved);
    let outcome = probes.get(key);
    if (!outcome) {
      outcome = describeOnce(resolved);
      probes.set(key, outcome);
      void outcome.then((settled) => {
        if (!settled.ok && 'transient' in settled && probes.get(key) === outcome) probes.delete(key);
      });
    }
    return outcome;
  }

  async function describeOnce(resolved: ResolvedSource): Promise<ProbeOutcome> {
    if (isRemote(resolved)) return describeRemote(resolved);
    // A failed read of the index (the file went away) leaves the answer to the probe.
    const index = deps.frameIndexes ? await deps.frameIndexes.indexFor(resolved).catch(() => null) : null;
    if (index) return { ok: true, facts: factsOf(index) };
    // A header that cannot be parsed is no header; a read that fails (EMFILE) fails the probe, passing.
    const gaplessOf = (file: string) =>
      readGaplessInfo(file).catch((error: unknown) => (systemErrorCode(error) ? Promise.reject(error) : null));
    return Promise.all([deps.probe(resolved.file), gaplessOf(resolved.file)]).then(
      ([probe, gapless]): ProbeOutcome => ({ ok: true, probe, gaplessSeconds: gapless?.durationSeconds ?? null }),
      // A probe that could not run (time limit, signal, spawn, EMFILE: fault-kind.ts) says nothing of the file.
      (error: Error): ProbeOutcome =>
        error instanceof ProbeTimedOut || error instanceof ToolPassingFault || systemErrorCode(error)
          ? { ok: false, transient: true, timedOut: error instanceof ProbeTimedOut, reason: error.message }
          : { ok: false, reason: error.message },
    );
  }

  /**
   * A source on the origin is described by its frame index only (built by Range reads, streamed): one that
   * is not a clean frame chain is refused, where a local one would be probed, so ffprobe never reads a
   * whole object over HTTP. An origin that fails while the index is built says nothing of the source.
   */
  async function describeRemote(resolved: ResolvedSource): Promise<ProbeOutcome> {
    try {
      const index = deps.frameIndexes ? await deps.frameIndexes.indexFor(resolved) : null;
      return index ? { ok: true, facts: factsOf(index) } : { ok: false, reason: 'not a clean chain of MP3 frames' };
    } catch (error) {
      if (error instanceof SourceNotFound) return { ok: false, transient: true, timedOut: false, reason: error.message };
      return { ok: false, transient: true, timedOut: error instanceof Unavailable, reason: (error as Error).message };
    }
  }

  // A resolution (realpath + stat) is reused for RESOLVE_TTL_MS: per request they were a quarter of the
  // API's CPU on memory hits (measured with --cpu-prof). A replaced file is noticed within that time.
  const resolutions = new LRUCache<string, Promise<ResolvedSource>>({
    max: deps.maxEntries ?? 10_000,
    ttl: deps.resolveTtlMs ?? RESOLVE_TTL_MS,
  });
  function resolveRecently(source: SourcePath): Promise<ResolvedSource> {
    const key = source.join('/');
    let resolved = resolutions.get(key);
    if (!resolved) {
      resolved = deps.origin ? deps.origin.resolve(source) : resolveSource(root, source);
      resolutions.set(key, resolved);
      // Only what exists is remembered: a file that appears is served at once.
      resolved.catch(() => resolutions.get(key) === resolved && resolutions.delete(key));
    }
    return resolved;
  }

  return {
    async describe(source) {
      const resolved = await resolveRecently(source);
      const unreadable = `'${sourceLabel(resolved.path)}' is not a decodable MP3 file`;
      if (resolved.size === 0) throw new Unprocessable(`${unreadable}: it is empty.`);
      const outcome = await probeOnce(resolved);
      if (!outcome.ok && 'transient' in outcome) {
        const what = outcome.timedOut ? 'took too long' : 'failed on a passing fault';
        throw new Unavailable(`Reading '${sourceLabel(resolved.path)}' ${what}; retry shortly.`, 'probeSlow');
      }
      if (!outcome.ok) throw new Unprocessable(`${unreadable}; replace the file with a valid MP3.`);
      if ('facts' in outcome) return { ...resolved, ...outcome.facts };
      const { probe } = outcome;
      if (probe.codecName !== 'mp3' || !(probe.durationSeconds > 0) || !(probe.sampleRate > 0)) {
        throw new Unprocessable(`${unreadable} (found ${probe.codecName || 'no'} audio); only MP3 sources are served.`);
      }
      return {
        ...resolved,
        // The length players play: without encoder delay and padding when the LAME tag records them.
        durationMs: Math.floor((outcome.gaplessSeconds ?? probe.durationSeconds) * 1000),
        sampleRate: probe.sampleRate,
        channels: probe.channels,
        bitRate: probe.bitRate,
      };
    },
  };
}

type IndexedFacts = Pick<SourceFacts, 'durationMs' | 'sampleRate' | 'channels' | 'bitRate'>;

/** A source's facts from its frame index: the gapless length, and the audio frames' mean bit rate. */
function factsOf(index: FrameIndex): IndexedFacts {
  const audioSeconds = (index.frames * index.samplesPerFrame) / index.sampleRate;
  const audioBytes = index.offsets[index.frames]! - index.offsets[0]!;
  return {
    durationMs: gaplessDurationMs(index),
    sampleRate: index.sampleRate,
    channels: index.channels,
    bitRate: Math.round((audioBytes * 8) / audioSeconds),
  };
}
