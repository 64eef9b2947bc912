// Owns what the CLI needs to work without a service: the media tools and the source catalog, built from the
// configuration as the API and the workers build them (same ffmpeg/ffprobe, same MEDIA_ROOT checks).
import type { Config } from '../config.js';
import { createMediaTools, ToolNotExecutable, type MediaTools } from '../media/ffmpeg.js';
import { createCatalog, type Catalog } from '../sources/catalog.js';
import { CliError, EXIT } from './command.js';

export async function openLocalMedia(config: Config): Promise<{ media: MediaTools; catalog: Catalog }> {
  const media = await createMediaTools({
    ffmpegPath: config.ffmpegPath,
    ffprobePath: config.ffprobePath,
    probeTimeoutMs: config.probeTimeoutMs,
  }).catch((error: Error) => {
    throw error instanceof ToolNotExecutable ? new CliError(error.message, EXIT.config) : error;
  });
  const catalog = await createCatalog({ mediaRoot: config.mediaRoot, probe: media.probe }).catch((error: Error) => {
    throw new CliError(`MEDIA_ROOT ${config.mediaRoot} cannot be opened: ${error.message}`, EXIT.config);
  });
  return { media, catalog };
}
