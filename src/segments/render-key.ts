// Owns the render key: the hash of everything that decides a render's bytes (source identity, canonical
// parameters, renderer version). Same key, same bytes: it names the stored file, the job, and the ETag.
// A deployment that signs its URLs keys the hash with SIGNING_KEY: the facts are public (a source's name,
// size and mtime from /sources), so an unkeyed key could be computed by anyone and taken to /renders/{id},
// which answers with the segment's signed URL. Keyed, a render id is known only to whoever was given it.
import { createHash, createHmac } from 'node:crypto';
import { RENDERER_VERSION, type RenderSpec } from '../render/render-spec.js';
import { type SourcePath, sourcePathFor } from './segment-url.js';

/** What a key knows of its source: the path it was asked by and the version of the file found there. */
export interface SourceIdentity {
  path: SourcePath;
  size: number;
  mtimeMs: number;
  /** A source on the HTTP origin: its ETag (source-file.ts); absent for a local file. */
  validator?: string;
}

/** A render key as written: also a render's id in /renders/{id}. */
export const RENDER_KEY_PATTERN = '^[0-9a-f]{32}$';
export const RENDER_ID_DESCRIPTION = '32 lowercase hex characters, as in the Location of a 202 answer';

/** `signingKey`: the deployment's SIGNING_KEY, when it signs its URLs. */
export function renderKey(source: SourceIdentity, spec: RenderSpec, signingKey?: string): string {
  // Fields in a fixed order (not JSON of the options object, whose key order is incidental).
  const { options } = spec;
  const parameters =
    options.mode === 'copy' ? ['copy'] : ['exact', options.bitrateKbps, options.channels, options.fadeInMs, options.fadeOutMs];
  const identity = JSON.stringify([
    RENDERER_VERSION,
    sourcePathFor(source.path),
    source.size,
    source.mtimeMs,
    spec.startMs,
    spec.endMs,
    ...parameters,
    // Only an origin source's keys carry its ETag: every local file's key stays what it was.
    ...(source.validator === undefined ? [] : [source.validator]),
  ]);
  // 128 bits of SHA-256 in hex: collision-free in practice, short enough for paths and job ids (no ':').
  const hash = signingKey === undefined ? createHash('sha256') : createHmac('sha256', signingKey);
  return hash.update(identity).digest('hex').slice(0, 32);
}
