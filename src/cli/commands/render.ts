// `segments render <source> <start> <end>`: one segment into a file or stdout, through a running service
// (--url or SEGMENTS_URL: the same URL a player would ask, so it is cached there too) or, without one,
// rendered here by the worker's own steps.
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { formatSeconds } from '../../segments/seconds.js';
import { segmentFileName, type SegmentRequest } from '../../segments/segment-url.js';
import { asCliErrors, type Command, type CommandContext } from '../command.js';
import { createLocalRenderer } from '../local-render.js';
import { deliver, STDOUT } from '../output-file.js';
import { readArgs } from '../parse-args.js';
import { segmentFrom } from '../segment-args.js';
import { fetchOk, readAnswer, segmentUrl, serviceFrom, type Service } from '../service-client.js';

const USAGE = `Usage: segments render <source> <start> <end> [options]

Writes one segment of <source> (its path below MEDIA_ROOT as on disk, without .mp3, e.g. demo/tones),
from <start> to <end> seconds (at most three decimals; an end past the source's end means its end).

With --url or SEGMENTS_URL it is fetched from that running service (rendered there, and cached there for
players); otherwise it is rendered here, with the service's ffmpeg steps, from MEDIA_ROOT.

Options:
  --mode copy|exact    copy: the source's frames, cut to the sample (default); exact: re-encoded
  --bitrate N          exact: kbps (8 ... 320, default 128)
  --channels 1|2       exact: channels (default: as the source)
  --fade-in S          exact: seconds of fade-in
  --fade-out S         exact: seconds of fade-out
  -o, --output FILE    where to write it; '-' is stdout (default: a readable name such as
                       tones_10-20.mp3 in the current folder)
  --url URL            the service's base URL, e.g. http://127.0.0.1:8080 (overrides SEGMENTS_URL)

Examples:
  segments render demo/tones 10 20
  segments render demo/tones 5 12.5 --mode exact --bitrate 64 -o clip.mp3
  segments render demo/tones 10 20 --url http://127.0.0.1:8080 -o - | mpg123 -`;

const OPTIONS = {
  mode: { type: 'string' },
  bitrate: { type: 'string' },
  channels: { type: 'string' },
  'fade-in': { type: 'string' },
  'fade-out': { type: 'string' },
  output: { type: 'string', short: 'o' },
  url: { type: 'string' },
} as const;

/** The file name the service gave (Content-Disposition filename*), never a path. */
function servedFileName(response: Response): string | undefined {
  const match = /filename\*=UTF-8''([^;]+)/i.exec(response.headers.get('content-disposition') ?? '');
  if (!match?.[1]) return undefined;
  try {
    const name = path.basename(decodeURIComponent(match[1]));
    return name && name !== '.' && name !== '..' ? name : undefined;
  } catch {
    return undefined;
  }
}

async function fromService(
  service: Service,
  segment: SegmentRequest,
  output: string | undefined,
): Promise<{ target: string; detail: string }> {
  const url = segmentUrl(service, segment);
  const response = await fetchOk(url);
  const target = output ?? servedFileName(response) ?? segmentFileName(segment.source, segment.startMs, segment.endMs);
  await deliver(target, (temp) =>
    readAnswer(url, () => pipeline(Readable.fromWeb(response.body as ReadableStream), createWriteStream(temp))),
  );
  return { target, detail: `from ${service.baseUrl}, X-Cache-Status ${response.headers.get('x-cache-status') ?? 'none'}` };
}

async function locally(
  context: CommandContext,
  segment: SegmentRequest,
  output: string | undefined,
): Promise<{ target: string; detail: string }> {
  const renderer = await createLocalRenderer(context.config());
  const { source, plan } = await renderer.plan(segment);
  const target = output ?? segmentFileName(segment.source, plan.spec.startMs, plan.spec.endMs);
  let seconds = 0;
  await deliver(target, async (temp) => {
    seconds = await renderer.render(source, plan, temp);
  });
  return { target, detail: `${seconds.toFixed(3)} s, rendered locally from ${source.file}` };
}

export const renderCommand: Command = {
  name: 'render',
  summary: 'write one segment to a file or stdout (through a service, or rendered locally)',
  usage: USAGE,
  async run(args, context) {
    const { values, positionals } = readArgs(args, { name: 'render', options: OPTIONS, positionals: [3, 3] });
    const [source, start, end] = positionals as [string, string, string];
    const segment = await asCliErrors(() =>
      segmentFrom({
        source,
        start,
        end,
        mode: values.mode,
        bitrate: values.bitrate,
        channels: values.channels,
        fade_in: values['fade-in'],
        fade_out: values['fade-out'],
      }),
    );
    const service = serviceFrom(values.url, context.config());
    const { target, detail } = service
      ? await fromService(service, segment, values.output)
      : await locally(context, segment, values.output);
    if (target === STDOUT) return;
    const bytes = (await stat(target)).size;
    context.print(
      `${target}: ${bytes} bytes, ${formatSeconds(segment.startMs)}-${formatSeconds(segment.endMs)} s of ${segment.source.join('/')} (${detail})`,
    );
  },
};
