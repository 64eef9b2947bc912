// `segments warm <list>`: asks a running service for many segments, a few at a time, so they are rendered
// and cached before players ask. Each is a GET of its segment URL, the body read to its end and dropped:
// what a player sends, so every cache on the way (nginx, a CDN) keeps the answer; a HEAD is not sure to
// (nginx turns it into a GET for its cache, a CDN may not, and nothing is cached of a body never read).
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { frontUrl } from '../../config.js';
import { CliError, EXIT, type Command } from '../command.js';
import { readArgs } from '../parse-args.js';
import { createProgress, type ProgressState } from '../progress.js';
import { parseSegmentList } from '../segment-list.js';
import { fetchOk, readAnswer, segmentUrl, serviceFrom, ServiceAnswerError } from '../service-client.js';

const USAGE = `Usage: segments warm <list.csv|list.json|-> [--concurrency N] [--url URL]

Fetches every segment of the list through the running service (--url, else SEGMENTS_URL, else this
machine's nginx front http://HOST:PORT), N at a time, so each is rendered and cached before players ask.
Progress goes to stderr (a bar on a terminal, a line every 5 s otherwise), each failure as a line of its
own, and a summary to stdout; the exit code is 1 if any segment failed. A 503 (busy, or a render still
running) is tried again after its Retry-After, up to 3 times.

The list ('-' reads stdin) is CSV with a header line, or a JSON array (first character '['); its fields are
source (the path below MEDIA_ROOT as on disk, without .mp3), start and end in seconds, and optionally mode,
bitrate, channels, fade_in, fade_out. CSV fields may be quoted ("Show, part 1"). Duplicates are fetched once.

  source,start,end,mode                 [{"source": "demo/tones", "start": 10, "end": 20},
  demo/tones,10,20,                      {"source": "demo/tones", "start": 0, "end": 5, "mode": "exact"}]
  demo/tones,0,5,exact

Options:
  --concurrency N   segments fetched at once (1 to 64, default 4)
  --url URL         the service's base URL, e.g. http://127.0.0.1:8080 (overrides SEGMENTS_URL)

Example:
  segments warm tomorrow.csv --concurrency 8`;

const OPTIONS = { concurrency: { type: 'string', default: '4' }, url: { type: 'string' } } as const;
const MAX_CONCURRENCY = 64;
const ATTEMPTS = 3;
/** A Retry-After longer than this is not waited out: the segment counts as failed. */
const MAX_RETRY_WAIT_SECONDS = 30;

async function readList(name: string): Promise<string> {
  try {
    return name === '-' ? await text(process.stdin) : await readFile(name, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the list '${name}': ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, EXIT.input);
  }
}

/**
 * Warming is background work (RFC 9218's urgency 7): its renders wait behind every listener's and every
 * asynchronous ask's, so a warm of thousands of segments never holds a player back.
 */
export const WARM_PRIORITY = 'u=7';

/** GET it and read the body to its end (nginx caches a response only once it has all of it). */
async function fetchSegment(url: string): Promise<string> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetchOk(url, { headers: { priority: WARM_PRIORITY } });
      await readAnswer(url, async () => {
        for await (const _chunk of response.body ?? []) {
          // dropped: only the render and the cache entry are wanted
        }
      });
      return response.headers.get('x-cache-status') ?? 'none';
    } catch (error) {
      const retryAfter = error instanceof ServiceAnswerError && error.status === 503 ? error.retryAfterSeconds : undefined;
      if (retryAfter === undefined || retryAfter > MAX_RETRY_WAIT_SECONDS || attempt >= ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    }
  }
}

export const warmCommand: Command = {
  name: 'warm',
  summary: 'pre-render the segments of a CSV or JSON list through the running service',
  usage: USAGE,
  async run(args, context) {
    const { values, positionals } = readArgs(args, { name: 'warm', options: OPTIONS, positionals: [1, 1] });
    const concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
      throw new CliError(`--concurrency takes a whole number from 1 to ${MAX_CONCURRENCY} (got '${values.concurrency}').`, EXIT.usage);
    }
    const config = context.config();
    const service = serviceFrom(values.url, config, frontUrl(config))!;
    const listName = positionals[0]!;
    const listed = parseSegmentList(await readList(listName), listName === '-' ? 'stdin' : listName);
    const urls = [...new Set(listed.map(({ segment }) => segmentUrl(service, segment)))];
    // One look before the run: a service that is not there is one clear line, not a failure per segment.
    await fetchOk(`${service.baseUrl}/healthz`);

    const state: ProgressState = { total: urls.length, done: 0, failed: 0 };
    const cacheStatuses = new Map<string, number>();
    const progress = createProgress(process.stderr);
    const started = Date.now();
    let next = 0;
    async function lane(): Promise<void> {
      while (next < urls.length) {
        const url = urls[next++]!;
        try {
          const status = await fetchSegment(url);
          cacheStatuses.set(status, (cacheStatuses.get(status) ?? 0) + 1);
          state.done += 1;
        } catch (error) {
          if (!(error instanceof CliError)) throw error;
          state.failed += 1;
          progress.log(`failed: ${url.slice(service.baseUrl.length)}: ${error.message}`);
        }
        progress.update(state);
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, lane));
    progress.finish(state);
    const seconds = (Date.now() - started) / 1000;
    const statuses = [...cacheStatuses].map(([status, count]) => `${count} ${status}`).join(', ');
    context.print(
      `warmed ${state.done} of ${state.total} segment(s) in ${seconds.toFixed(1)} s${statuses ? ` (X-Cache-Status: ${statuses})` : ''}; ${state.failed} failed`,
    );
    if (state.failed > 0) throw new CliError(`${state.failed} of ${state.total} segment(s) failed; see the lines above.`, EXIT.someFailed);
  },
};
