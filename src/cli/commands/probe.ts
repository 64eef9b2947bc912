// `segments probe <source>`: the source's facts (duration, sample rate, channels, bit rate, size), as the
// service knows them (GET /sources/{source}, with --url or SEGMENTS_URL) or read here by the same catalog.
import { sourcePathFor } from '../../segments/segment-url.js';
import { describeSource, type SourceDescription } from '../../sources/source-description.js';
import { asCliErrors, type Command } from '../command.js';
import { openLocalMedia } from '../local-media.js';
import { readArgs } from '../parse-args.js';
import { parseCliSource } from '../segment-args.js';
import { fetchOk, readAnswer, serviceFrom } from '../service-client.js';

const USAGE = `Usage: segments probe <source> [--json] [--url URL]

Prints what the service knows of <source> (its path below MEDIA_ROOT as on disk, without .mp3): duration,
sample rate, channels, bit rate and size. With --url or SEGMENTS_URL it asks that running service
(GET /sources/{source}); otherwise it reads the file here, from MEDIA_ROOT, with the service's own probe.

Options:
  --json      the JSON the service answers, as it is
  --url URL   the service's base URL, e.g. http://127.0.0.1:8080 (overrides SEGMENTS_URL)

Example:
  segments probe demo/tones`;

const OPTIONS = { json: { type: 'boolean' }, url: { type: 'string' } } as const;

function lines(facts: SourceDescription): string[] {
  return [
    `source       ${facts.source}`,
    `duration     ${facts.durationSeconds} s`,
    `sample rate  ${facts.sampleRate} Hz`,
    `channels     ${facts.channels}`,
    `bit rate     ${Math.round(facts.bitRate / 1000)} kbps`,
    `size         ${facts.size} bytes`,
  ];
}

export const probeCommand: Command = {
  name: 'probe',
  summary: "print a source's duration, sample rate, channels, bit rate and size",
  usage: USAGE,
  async run(args, context) {
    const { values, positionals } = readArgs(args, { name: 'probe', options: OPTIONS, positionals: [1, 1] });
    const source = await asCliErrors(() => parseCliSource(positionals[0]!));
    const service = serviceFrom(values.url, context.config());
    const url = service && `${service.baseUrl}/sources/${sourcePathFor(source)}`;
    const facts = url
      ? await fetchOk(url).then((response) => readAnswer(url, () => response.json() as Promise<SourceDescription>))
      : await asCliErrors(async () => describeSource(await (await openLocalMedia(context.config())).catalog.describe(source)));
    if (values.json) context.print(JSON.stringify(facts, null, 2));
    else for (const line of lines(facts)) context.print(line);
  },
};
