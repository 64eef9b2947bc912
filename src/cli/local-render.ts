// Owns `segments render` without a service: the worker's own steps (src/render/render-pipeline.ts
// renderChecked: ffmpeg, post-processing, the output check) on a source described by the same catalog and planned by the same
// planSegment, so a local render has the bytes the service would serve; no queue, store or Redis.
import { pino } from 'pino';
import type { Config } from '../config.js';
import { createFrameIndexes } from '../render/frame-indexes.js';
import { RenderFailed } from '../render/render-failure.js';
import { renderChecked } from '../render/render-pipeline.js';
import { planSegment, type SegmentPlan } from '../segments/segment-plan.js';
import type { SegmentRequest } from '../segments/segment-url.js';
import type { SourceFacts } from '../sources/catalog.js';
import { asCliErrors, CliError, EXIT } from './command.js';
import { openLocalMedia } from './local-media.js';

export interface LocalRenderer {
  /** The source's facts and the render plan (clamped end, key), or the service's 4xx as a CliError. */
  plan(segment: SegmentRequest): Promise<{ source: SourceFacts; plan: SegmentPlan }>;
  /** Renders into `file`; returns the output's duration in seconds. */
  render(source: SourceFacts, plan: SegmentPlan, file: string): Promise<number>;
}

export async function createLocalRenderer(config: Config): Promise<LocalRenderer> {
  const { media, catalog } = await openLocalMedia(config);
  // The worker's steps log for operators; here the outcome is the one line the command prints.
  const log = pino({ level: 'silent' });
  const frameIndexes = createFrameIndexes({ maxBytes: config.frameIndexMaxBytes });
  return {
    plan: (segment) =>
      asCliErrors(async () => {
        const source = await catalog.describe(segment.source);
        return {
          source,
          plan: planSegment(segment, source, { maxSegmentSeconds: config.maxSegmentSeconds, signingKey: config.signingKey }),
        };
      }),
    async render(source, plan, file) {
      try {
        return (await renderChecked({ media, renderTimeoutMs: config.renderTimeoutMs, frameIndexes }, source, file, plan.spec, log))
          .durationSeconds;
      } catch (error) {
        // A render failure says what the service would answer; anything else (ffmpeg killed) its message.
        if (error instanceof RenderFailed) {
          throw new CliError(error.failure.detail, error.failure.status === 422 ? EXIT.input : EXIT.unavailable);
        }
        throw new CliError(`the render did not finish: ${(error as Error).message}`, EXIT.unavailable);
      }
    },
  };
}
