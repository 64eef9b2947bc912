// Owns how the CLI talks to a running service: its base URL (--url, else SEGMENTS_URL), segment URLs in the
// canonical form (signed when SIGNING_KEY is set, as the service expects), and answers: redirects followed,
// a problem+json answer turned into its one-line detail, a service that cannot be reached named as such.
import { serviceBaseUrl, type Config } from '../config.js';
import { canonicalSegmentUrl, type SegmentRequest } from '../segments/segment-url.js';
import { publishedUrl } from '../segments/url-signature.js';
import { CliError, EXIT } from './command.js';

export interface Service {
  baseUrl: string;
  signingKey: string | undefined;
}

/** --url, else SEGMENTS_URL, else `fallback` (undefined: no service, work locally). */
export function serviceFrom(flag: string | undefined, config: Config, fallback?: string): Service | undefined {
  if (flag !== undefined) {
    const baseUrl = serviceBaseUrl(flag);
    if (!baseUrl)
      throw new CliError(`--url ${JSON.stringify(flag)} is not the base URL of a service, such as http://127.0.0.1:8080.`, EXIT.usage);
    return { baseUrl, signingKey: config.signingKey };
  }
  const baseUrl = config.segmentsUrl ?? fallback;
  return baseUrl === undefined ? undefined : { baseUrl, signingKey: config.signingKey };
}

export function segmentUrl(service: Service, segment: SegmentRequest): string {
  return `${service.baseUrl}${publishedUrl(canonicalSegmentUrl(segment), service.signingKey)}`;
}

/** The service answered, but not 2xx: the message is one line; the status and Retry-After are kept. */
export class ServiceAnswerError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message, status >= 500 ? EXIT.unavailable : EXIT.input);
  }
}

/** An answer that is not 2xx, as one line: the problem's detail when it has one, else the status. */
export async function answerError(response: Response): Promise<ServiceAnswerError> {
  const text = await response.text().catch(() => '');
  let detail = '';
  if (/json/.test(response.headers.get('content-type') ?? '')) {
    try {
      const problem = JSON.parse(text) as { detail?: unknown };
      if (typeof problem.detail === 'string') detail = problem.detail;
    } catch {
      // not JSON after all: the status says enough
    }
  }
  const retry = /^\d+$/.test(response.headers.get('retry-after') ?? '') ? Number(response.headers.get('retry-after')) : undefined;
  const message = `${response.status}${detail ? `: ${detail}` : ` ${response.statusText}`}${retry !== undefined ? ` (retry after ${retry} s)` : ''}`;
  return new ServiceAnswerError(message, response.status, retry);
}

/** What fetch's TypeError ("fetch failed", "terminated") wraps: the socket's code (ECONNREFUSED, UND_ERR_SOCKET). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** GET with redirects (308 to the canonical URL) followed; rejects with a CliError unless the answer is 2xx. */
export async function fetchOk(url: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow', ...init });
  } catch (error) {
    throw new CliError(
      `cannot reach the service at ${new URL(url).origin} (${networkReason(error)}); is it running? (--url or SEGMENTS_URL)`,
      EXIT.unavailable,
    );
  }
  if (!response.ok) throw await answerError(response);
  return response;
}

/**
 * Runs `read` on a 2xx answer's body: a body that breaks off (undici's `TypeError: terminated`, the connection
 * dropped) or is not the JSON asked for is the service's fault, one line and exit 69. A file system error
 * (writing the body somewhere) passes through as it is.
 */
export async function readAnswer<T>(url: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof CliError || (error as NodeJS.ErrnoException).syscall) throw error;
    const what = error instanceof SyntaxError ? 'a body that is not JSON' : `a body that broke off (${networkReason(error)})`;
    throw new CliError(`the service at ${new URL(url).origin} answered ${what}`, EXIT.unavailable);
  }
}
