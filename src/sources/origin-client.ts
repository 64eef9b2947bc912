// Owns every request to the operator's HTTP origin (MEDIA_ORIGIN): which URL a source maps to (under the
// prefix only, each path segment percent-encoded), connecting to the address origin-address.ts pins, HEAD
// for a source's identity, Range GETs for its bytes (timeouts, retries with backoff, a bound on requests
// at once), and what each answer means: 404 no such source, 5xx or no answer a passing 503, a redirect
// refused. Why pinned and why no redirects: docs/operations.md#sources-from-an-http-origin.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { MediaOrigin } from '../config.js';
import { SourceNotFound, Unavailable } from '../errors.js';
import type { SourceReader, SourceReaders } from '../media/source-reader.js';
import { type SourcePath, sourceLabel } from '../segments/segment-url.js';
import { createOriginAddress, isUnreachable, type PinnedAddress } from './origin-address.js';
import type { ResolvedSource } from './resolve-source.js';

/** The origin as the rest of the service uses it. */
export interface OriginClient extends SourceReaders {
  /** The source's URL, size and version (HEAD): SourceNotFound on 404, Unavailable on a fault or redirect. */
  resolve(source: SourcePath): Promise<ResolvedSource>;
  /** How ffmpeg opens a source on the origin (exact renders): the pinned URL and its input options. */
  ffmpegInput(url: string): Promise<{ url: string; headers: Record<string, string> }>;
}

/** An answer that is final for this request: not retried. */
class FinalAnswer extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}

/** First retry after 200 ms, then 400, 800...: a short blip passes, a lasting fault is not hammered. */
const BACKOFF_MS = 200;

export function createOriginClient(
  origin: MediaOrigin,
  options: { lookup?: (hostname: string) => Promise<PinnedAddress>; now?: () => number } = {},
): OriginClient {
  const base = new URL(`${origin.url}/`);
  const transport = base.protocol === 'https:' ? https : http;
  // The origin is the operator's, so a private address of its own is allowed (origin-address.ts).
  const addresses = createOriginAddress(base.hostname.replace(/^\[|\]$/g, ''), options);
  let active = 0;
  const queued: Array<() => void> = [];

  async function slot<T>(run: () => Promise<T>): Promise<T> {
    if (active >= origin.maxConcurrent) await new Promise<void>((resume) => queued.push(resume));
    else active += 1;
    try {
      return await run();
    } finally {
      const next = queued.shift();
      if (next) next();
      else active -= 1;
    }
  }

  function urlFor(source: SourcePath): URL {
    // Segments come from segment-url.ts's grammar (no '.', '..', '/', NUL); encoded, none can leave the prefix.
    return new URL(`${source.map(encodeURIComponent).join('/')}.mp3`, base);
  }

  /** One request, answered with its status, headers and (for a GET) its whole body, or failed. */
  async function once(method: 'HEAD' | 'GET', url: URL, headers: Record<string, string>, into?: Buffer) {
    const { address, family } = await addresses.current();
    return new Promise<{ response: IncomingMessage; length: number }>((resolve, reject) => {
      const request = transport.request(
        url,
        {
          method,
          headers: { ...origin.headers, ...headers },
          // Every connection goes to the pinned address; TLS still checks the certificate against the host.
          lookup: (_host, options, callback) =>
            (options as { all?: boolean }).all ? callback(null, [{ address, family }]) : callback(null, address, family),
          timeout: origin.timeoutMs,
          agent: false,
        },
        (response) => {
          // An origin that ignores Range would send the whole object: not read (ask() refuses the answer).
          if (method === 'GET' && response.statusCode === 200) {
            response.destroy();
            resolve({ response, length: 0 });
            return;
          }
          let length = 0;
          response.on('data', (chunk: Buffer) => {
            if (into && response.statusCode === 206) chunk.copy(into, length);
            length += chunk.length;
          });
          response.on('end', () => resolve({ response, length }));
          // A body cut short (the origin closed mid-answer): Node fails the response, a passing fault.
          response.on('error', reject);
        },
      );
      // Idle this long (no headers, or no next bytes): a stalled origin is a passing fault, like a 5xx.
      request.on('timeout', () => request.destroy(new Error(`no answer within ${origin.timeoutMs} ms`)));
      request.on('error', (error) => {
        if (isUnreachable(error)) addresses.failed(address);
        reject(error);
      });
      request.end();
    });
  }

  /** A request with its retries: the answer, or a typed error a person can act on. */
  async function ask(method: 'HEAD' | 'GET', source: SourcePath, url: URL, headers: Record<string, string> = {}, into?: Buffer) {
    const label = sourceLabel(source);
    let lastFault = '';
    for (let attempt = 0; attempt <= origin.retries; attempt += 1) {
      if (attempt > 0) await new Promise((wake) => setTimeout(wake, BACKOFF_MS * 2 ** (attempt - 1)));
      try {
        return await slot(async () => {
          const answer = await once(method, url, headers, into);
          const status = answer.response.statusCode ?? 0;
          if (status === 404 || status === 410) {
            throw new FinalAnswer(new SourceNotFound(`There is no source '${label}': the media origin has no such object.`));
          }
          if (status >= 300 && status < 400) {
            // Never followed: a redirect could point anywhere (another host, a private address).
            throw new FinalAnswer(
              new Unavailable(
                `The media origin redirected the request for '${label}', which this service does not follow; retry later.`,
                'originFailed',
              ),
            );
          }
          if (status === 412) {
            throw new FinalAnswer(
              new Unavailable(`The source '${label}' changed on the media origin while it was read; retry.`, 'originFailed'),
            );
          }
          if (status >= 500 || status === 429 || status === 408) throw new Error(`the origin answered ${status}`);
          if (status >= 400)
            throw new FinalAnswer(new SourceNotFound(`There is no source '${label}': the media origin refused it (${status}).`));
          return answer;
        });
      } catch (error) {
        if (error instanceof FinalAnswer) throw error.error;
        lastFault = (error as Error).message;
      }
    }
    throw new Unavailable(`The media origin did not answer for '${label}' (${lastFault}); retry shortly.`, 'originFailed');
  }

  return {
    async resolve(source) {
      const url = urlFor(source);
      const { response } = await ask('HEAD', source, url);
      const size = Number(response.headers['content-length']);
      if (!Number.isSafeInteger(size)) {
        throw new Unavailable(`The media origin gave no length for '${sourceLabel(source)}'; retry later.`, 'originFailed');
      }
      const modified = Date.parse(response.headers['last-modified'] ?? '');
      return { path: source, file: url.href, size, mtimeMs: Number.isNaN(modified) ? 0 : modified, validator: response.headers.etag ?? '' };
    },
    async open(source) {
      const url = new URL(source.file);
      // Only this origin's URLs are ever opened (the catalog made them from urlFor).
      if (!url.href.startsWith(base.href)) throw new Error('not a URL of the media origin');
      const path = decodeURIComponent(url.pathname.slice(base.pathname.length)).split('/');
      const { validator } = source;
      const reader: SourceReader = {
        size: source.size,
        async read(into, position) {
          const length = Math.min(into.length, source.size - position);
          if (length <= 0) return 0;
          const headers: Record<string, string> = { range: `bytes=${position}-${position + length - 1}` };
          // The version the index was built from, or a 412: never a replaced object's bytes under an old index.
          // Only a strong ETag: If-Match compares strongly, so a weak one (W/"…") would never match.
          if (validator && !validator.startsWith('W/')) headers['if-match'] = validator;
          const answer = await ask('GET', path, url, headers, into);
          if (answer.response.statusCode !== 206) {
            throw new Unavailable(`The media origin ignored a Range request for '${path.join('/')}'; retry later.`, 'originFailed');
          }
          return Math.min(answer.length, length);
        },
        close: async () => undefined,
      };
      return reader;
    },
    async ffmpegInput(url) {
      if (base.protocol === 'https:') return { url, headers: { ...origin.headers } };
      // Plain HTTP: ffmpeg is given the pinned address and the Host header, so it resolves nothing itself.
      const { address, family } = await addresses.current();
      const pinnedUrl = new URL(url);
      pinnedUrl.hostname = family === 6 ? `[${address}]` : address;
      return { url: pinnedUrl.href, headers: { ...origin.headers, Host: new URL(url).host } };
    },
  };
}
