// Owns the making of one render's bytes, as an ordered list of steps, without queue, store or Redis: find
// the frames to keep (a copy of an indexed source) or to decode (an exact render of one), build ffmpeg's
// arguments, run ffmpeg into a file (an exact render through its precomputed Info frame, so the file can
// be followed while it is written), repair what ffmpeg writes into a copy (gapless fields, junk), check
// the result. The worker's job processor and `segments render` both call renderChecked, so a local render
// has the bytes the service would serve. Failures are RenderFailed (a typed RenderFailure: permanent or
// passing); anything else is a passing fault.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { SourceNotFound, Unavailable } from '../errors.js';
import { systemErrorCode } from '../media/fault-kind.js';
import { FfmpegFailed, FfmpegTimedOut, type MediaTools, ToolPassingFault } from '../media/ffmpeg.js';
import { createInfoFrameInserter } from '../media/info-frame.js';
import { clearGaplessTrim, removeJunkBetweenFrames } from '../media/mp3-frame.js';
import { isRemote, type SourceFile } from '../media/source-file.js';
import type { FrameIndexes } from './frame-indexes.js';
import { type CheckedRender, checkOutput } from './output-check.js';
import { buildRenderArguments, type RenderInput } from './render-args.js';
import { exactRenderLayout } from './exact-layout.js';
import { passingFailure, permanentFailure, RenderFailed } from './render-failure.js';
import type { RenderSpec } from './render-spec.js';
import { writeSampleCopy } from './sample-copy.js';
import { spanStream, writeSpanTags } from './span-stream.js';

/** What the steps need: the media tools, a time limit, and the frame indexes a copy cuts by and an exact render decodes by. */
export interface RenderTools {
  media: MediaTools;
  renderTimeoutMs: number;
  frameIndexes: FrameIndexes;
  /**
   * How ffmpeg opens a source on the HTTP origin (its pinned URL and options: workers/job-processor.ts)
   * when it reads the whole source itself (a render its index gives no bytes for); without it, or for a
   * local file, ffmpeg reads the file by path.
   */
  remoteInput?: (source: SourceFile) => Promise<RenderInput>;
}

function ffmpegInput(tools: RenderTools, source: SourceFile): Promise<RenderInput> {
  return isRemote(source) && tools.remoteInput ? tools.remoteInput(source) : Promise.resolve({ file: source.file });
}

/** What a caller may follow: ffmpeg's progress, and the moment the output file exists and is being written. */
export interface RenderHooks {
  onProgress?: (seconds: number) => void;
  /** An exact render's file exists and will only grow, by its final bytes, from here (awaited before ffmpeg starts). */
  onWriting?: () => Promise<void>;
}

function runFfmpeg(
  tools: RenderTools,
  source: SourceFile,
  input: RenderInput,
  output: string | Writable,
  spec: RenderSpec,
  onProgress?: (seconds: number) => void,
): Promise<void> {
  // A span's bytes are read through the same readers as the index (a file handle, or the origin client).
  const stdin = input.span ? spanStream(tools.frameIndexes.readers, source, input.span) : undefined;
  return tools.media.render(output, buildRenderArguments(spec, input), { timeoutMs: tools.renderTimeoutMs, onProgress }, stdin);
}

/**
 * What any step's failure means for the render, decided once here from its type (fault-kind.ts classified
 * ffmpeg's end): a RenderFailed as it is; ffmpeg refusing the source, a permanent 422; a system error (a
 * read, a write, a spawn: EIO, EMFILE, ENOSPC...) or a signal, a passing fault, retried. Anything else is
 * rethrown: an unexplained error, retried as a passing fault too.
 */
export function asRenderFailure(error: unknown, log: Logger): unknown {
  if (error instanceof RenderFailed) return error;
  // The HTTP origin's answers (sources/origin-client.ts): a fault after its retries passes; an object gone
  // since the key was made is answered 503, and the next request's own look-up finds it gone (404).
  if (error instanceof Unavailable) return passingFailure(error.detail);
  if (error instanceof SourceNotFound) return permanentFailure(503, error.detail);
  if (error instanceof FfmpegTimedOut) {
    // Not retried: a render that hung once would most likely hang again and hold a worker each time.
    // The waiting requests get 503 + Retry-After; a later request tries once more (failed jobs are removed).
    log.warn({ timeoutMs: error.timeoutMs }, 'ffmpeg killed at its time limit');
    return permanentFailure(503, 'Rendering took longer than allowed; retry later.');
  }
  if (error instanceof FfmpegFailed) {
    log.warn({ stderr: error.stderrTail }, 'ffmpeg failed');
    return permanentFailure(422, 'ffmpeg could not read or cut this source; the file may be damaged or not MP3.');
  }
  const errno = error instanceof ToolPassingFault ? error.errno : systemErrorCode(error);
  if (errno === 'ENOSPC') {
    // The store's disk is full: eviction or an operator frees space.
    log.error({ err: (error as Error).message }, 'the render store is out of disk space');
    return passingFailure('The render store is out of disk space; retry later.');
  }
  if (errno || error instanceof ToolPassingFault) {
    log.warn({ err: (error as Error).message, errno }, 'the render failed on a passing fault; the job will be retried');
    return passingFailure('The render failed on a passing fault; retry in a few seconds.');
  }
  return error;
}

/**
 * An exact render, written into `output` as LAME encodes it, behind an Info frame computed before encoding:
 * every byte is final once written, so the file can be streamed while it grows.
 */
async function encodeFollowable(
  tools: RenderTools,
  source: SourceFile,
  input: RenderInput,
  output: string,
  spec: RenderSpec,
  hooks: RenderHooks,
) {
  const file = createWriteStream(output);
  await once(file, 'open');
  const withInfoFrame = createInfoFrameInserter(exactRenderLayout(spec));
  const written = pipeline(withInfoFrame, file);
  written.catch(() => undefined); // awaited below, once ffmpeg ended well
  try {
    await hooks.onWriting?.();
    await runFfmpeg(tools, source, input, withInfoFrame, spec, hooks.onProgress);
    await written;
  } catch (error) {
    withInfoFrame.destroy();
    throw error;
  }
}

/**
 * Renders `spec` of `source` into `output` and checks it; returns the output's duration and size. Fails
 * with a RenderFailed (permanent or passing), or an unexplained error (passing).
 */
export async function renderChecked(
  tools: RenderTools,
  source: SourceFile,
  output: string,
  spec: RenderSpec,
  log: Logger,
  hooks: RenderHooks = {},
): Promise<CheckedRender> {
  try {
    return await renderSteps(tools, source, output, spec, hooks);
  } catch (error) {
    throw asRenderFailure(error, log);
  }
}

async function renderSteps(
  tools: RenderTools,
  source: SourceFile,
  output: string,
  spec: RenderSpec,
  hooks: RenderHooks,
): Promise<CheckedRender> {
  if (spec.options.mode === 'exact') {
    // An indexed source: only the frames the render decodes (and those priming the decoder), read by us
    // and streamed into ffmpeg, a local file and an origin object alike. Otherwise ffmpeg's own seek.
    const span = await tools.frameIndexes.spanFor(source, spec);
    // Tags after the frames come from a small file of the source's tags (decode-span.ts), beside the
    // output: in the store's temp folder, named after the output, so a dead worker's clean-up takes it too.
    const tagsFile = span?.tags ? `${output}.tags` : undefined;
    try {
      if (span && tagsFile) await writeSpanTags(tools.frameIndexes.readers, source, span, tagsFile);
      const input: RenderInput = span ? { file: source.file, span, tagsFile } : await ffmpegInput(tools, source);
      await encodeFollowable(tools, source, input, output, spec, hooks);
    } finally {
      if (tagsFile) await rm(tagsFile, { force: true });
    }
    return checkOutput(output, spec);
  }
  // A copy of a clean frame chain is cut to the sample by the project's own frame code (no ffmpeg).
  const index = await tools.frameIndexes.indexFor(source);
  if (index && index.sampleRate === spec.sampleRate) {
    const samples = await writeSampleCopy(index, source, spec, output, tools.frameIndexes.readers);
    if (samples !== null) return checkOutput(output, spec, { samples });
  }
  // Otherwise whole frames, by ffmpeg: by byte offset when indexed (the cut's own frames allowed no sample
  // cut there), else by ffmpeg's seek.
  const cut = await tools.frameIndexes.cutFor(source, spec);
  const input: RenderInput = { ...(await ffmpegInput(tools, source)), cut };
  await runFfmpeg(tools, source, input, output, spec, hooks.onProgress);
  // Frames cut by the index come from a proven clean chain: only ffmpeg's own seek can copy junk along.
  if (!input.cut) await removeJunkBetweenFrames(output);
  await clearGaplessTrim(output);
  return checkOutput(output, spec);
}
