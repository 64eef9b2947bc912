// Owns what is known about each source: resolved safely, probed once, and kept in an LRU keyed by real
// path, size and mtime, so a replaced file is probed again and an unchanged one never is.
import { LRUCache } from 'lru-cache';
import { Unavailable, Unprocessable } from '../errors.js';
import { FfmpegKilled, ProbeTimedOut, type AudioProbe } from '../media/ffmpeg.js';
import { readGaplessInfo } from '../media/mp3-frame.js';
import { fileVersion } from '../media/source-file.js';
import { type SourcePath, sourceLabel } from '../segments/segment-url.js';
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
  /** The file could not be read as audio: remembered, like a success, until the file changes. */
  | { ok: false; reason: string }
  /** The probe itself did not finish (time limit, killed): says nothing about the file, never remembered. */
  | { ok: false; transient: true; reason: string };

/** How long a source's resolution (real path, size, mtime) is trusted before it is looked at again. */
export const RESOLVE_TTL_MS = 1_000;

export async function createCatalog(deps: {
  mediaRoot: string;
  probe: (file: string) => Promise<AudioProbe>;
  maxEntries?: number;
  /** How long a resolution is reused; RESOLVE_TTL_MS unless given. */
  resolveTtlMs?: number;
}): Promise<Catalog> {
  const root = await realMediaRoot(deps.mediaRoot);
  // Holds promises, so concurrent first requests for one source share one probe.
  const probes = new LRUCache<string, Promise<ProbeOutcome>>({ max: deps.maxEntries ?? 10_000 });

  function probeOnce(resolved: ResolvedSource): Promise<ProbeOutcome> {
    const key = fileVersion(resolved);
    let outcome = probes.get(key);
    if (!outcome) {
      outcome = Promise.all([deps.probe(resolved.file), readGaplessInfo(resolved.file).catch(() => null)]).then(
        ([probe, gapless]): ProbeOutcome => ({ ok: true, probe, gaplessSeconds: gapless?.durationSeconds ?? null }),
        (error: Error): ProbeOutcome =>
          error instanceof ProbeTimedOut || error instanceof FfmpegKilled
            ? { ok: false, transient: true, reason: error.message }
            : { ok: false, reason: error.message },
      );
      probes.set(key, outcome);
      void outcome.then((settled) => {
        if (!settled.ok && 'transient' in settled && probes.get(key) === outcome) probes.delete(key);
      });
    }
    return outcome;
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
      resolved = resolveSource(root, source);
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
        throw new Unavailable(`Reading '${sourceLabel(resolved.path)}' took too long; retry shortly.`, 'probeSlow');
      }
      if (!outcome.ok) throw new Unprocessable(`${unreadable}; replace the file with a valid MP3.`);
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
