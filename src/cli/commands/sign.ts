// `segments sign <url>`: prints the URL in its canonical form, signed with SIGNING_KEY, so a deployment
// that signs its URLs can hand them out. The canonical form is the one the service answers without a 308.
import { BadRequest } from '../../errors.js';
import { parseRenderOptions, QUERY_PARAMETERS, type SegmentQuery } from '../../segments/render-options.js';
import { canonicalSegmentUrl, parseSegmentPath } from '../../segments/segment-url.js';
import { publishedUrl, SIGNATURE_PARAMETER } from '../../segments/url-signature.js';
import { asCliErrors, CliError, EXIT, type Command } from '../command.js';

const USAGE = `Usage: segments sign <url>

Prints <url> in its canonical form with its signature (the last query parameter, ${SIGNATURE_PARAMETER}=),
signed with SIGNING_KEY from the environment. <url> is a segment URL, whole
(http://host:8080/segments/demo/tones/10-20.mp3) or its path (/segments/demo/tones/10-20.mp3?mode=exact);
a ${SIGNATURE_PARAMETER} it already carries is replaced.

Example:
  SIGNING_KEY=... segments sign /segments/demo/tones/010-20.50.mp3
  /segments/demo/tones/10-20.5.mp3?sig=...`;

/** The query as the route would see it: known parameters, each given once. */
function readQuery(search: URLSearchParams): SegmentQuery {
  const query: Record<string, string> = {};
  for (const [name, value] of search) {
    if (!(name in QUERY_PARAMETERS))
      throw new BadRequest(`Unknown query parameter '${name}'; a segment URL takes only: ${Object.keys(QUERY_PARAMETERS).join(', ')}.`);
    if (name in query) throw new BadRequest(`Query parameter '${name}' is given twice.`);
    query[name] = value;
  }
  return query;
}

/** Splits a whole URL or a bare path into the origin to keep, the raw path and the query. */
function splitUrl(input: string): { origin: string; rawPath: string; search: URLSearchParams } {
  if (/^https?:\/\//i.test(input)) {
    let url: URL;
    try {
      url = new URL(input);
    } catch {
      throw new BadRequest(`'${input}' is not a URL.`);
    }
    return { origin: url.origin, rawPath: url.pathname, search: url.searchParams };
  }
  const [rawPath = '', query = ''] = input.split(/\?(.*)/s, 2);
  return { origin: '', rawPath, search: new URLSearchParams(query) };
}

export function signUrl(input: string, key: string): string {
  const { origin, rawPath, search } = splitUrl(input);
  const query = readQuery(search);
  const canonical = canonicalSegmentUrl({
    ...parseSegmentPath(rawPath),
    options: parseRenderOptions(query),
    download: query.download === '1',
  });
  return `${origin}${publishedUrl(canonical, key)}`;
}

export const signCommand: Command = {
  name: 'sign',
  summary: 'print a segment URL signed with SIGNING_KEY',
  usage: USAGE,
  async run(args, context) {
    if (args.length !== 1) throw new CliError(`sign takes one URL.\n\n${USAGE}`, EXIT.usage);
    const key = context.config().signingKey;
    if (!key)
      throw new CliError('SIGNING_KEY is not set: export the key the service runs with (at least 16 characters), then sign.', EXIT.input);
    context.print(await asCliErrors(() => signUrl(args[0]!, key)));
  },
};
