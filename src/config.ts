// Owns the environment: every setting's name, default and validation. process.env is read here only.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root (the nearest package.json), so defaults do not depend on the working directory. */
export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return from;
  }
}

export interface Config {
  /** Address nginx listens on. */
  host: string;
  /** Public (nginx) port. */
  port: number;
  /** Port of the Fastify API that nginx proxies to (listens on 127.0.0.1). */
  apiPort: number;
  mediaRoot: string;
  /** Sources read over HTTP instead of from MEDIA_ROOT (sources/origin-client.ts); undefined: MEDIA_ROOT. */
  mediaOrigin: MediaOrigin | undefined;
  dataDir: string;
  /** An existing Redis; undefined means the stack starts a private one. */
  redisUrl: string | undefined;
  workers: number;
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
  /** How long a request waits for its render before 503 + Retry-After. */
  waitTimeoutMs: number;
  /** A command on the request path's Redis connection unanswered this long fails (a stalled Redis: 503). */
  redisCommandTimeoutMs: number;
  /** An ffmpeg run longer than this is killed. */
  renderTimeoutMs: number;
  /** Longest segment (after clamping to the source's end), in seconds. */
  maxSegmentSeconds: number;
  /** Max-age for segment answers; the URL names the bytes, but a replaced source changes them. */
  cacheMaxAgeSeconds: number;
  /** Max-age for peaks answers: short, since a peaks URL names a source, not its version (revalidated by ETag). */
  peaksMaxAgeSeconds: number;
  /** Requests allowed to wait on renders at once in one API process; past it, misses get 503. */
  maxWaitingRequests: number;
  /** Render jobs allowed to wait in the queue (all API processes together); past it, misses get 503. */
  maxQueueDepth: number;
  /** Size budget of the render store; past it the least recently used renders are removed. */
  storeMaxBytes: number;
  /** The API's memory copy of hot renders, in bytes (0: none); a render over 1/16 of it is streamed instead. */
  hotCacheMaxBytes: number;
  /** Each worker's memory for source frame indexes, in bytes; an index that does not fit is rebuilt per copy. */
  frameIndexMaxBytes: number;
  /** A render used (written or opened) this recently is never evicted, even past the budget. */
  storeEvictGraceMs: number;
  /** An ffprobe run longer than this is killed and the source refused (503). */
  probeTimeoutMs: number;
  /** HMAC key for signed segment URLs; undefined means URLs are not signed. */
  signingKey: string | undefined;
  /** Token that opens the queue dashboard at /admin/queues; undefined means no dashboard (404). */
  adminToken: string | undefined;
  /** BullMQ lock on an active job; a dead worker's job is taken up again within about this long. */
  jobLockMs: number;
  /** nginx proxy_cache max_size, in bytes. */
  nginxCacheMaxBytes: number;
  /** The `segments` CLI: base URL of a running service (its nginx front); undefined means render and probe locally. */
  segmentsUrl: string | undefined;
  logLevel: string;
}

/** The operator's HTTP origin: a base URL every source lives under, and static headers sent with every read. */
export interface MediaOrigin {
  /** http(s)://host[:port]/prefix, without a trailing slash, query or fragment. */
  url: string;
  headers: Readonly<Record<string, string>>;
  /** One origin request unanswered (headers or next bytes) this long fails. */
  timeoutMs: number;
  /** Tries after the first of a request that failed on a passing fault (5xx, timeout, reset), with backoff. */
  retries: number;
  /** Origin requests at once in one process; more wait their turn. */
  maxConcurrent: number;
}

/** One clear line naming the variable: thrown at start, printed, process exits. */
export class ConfigError extends Error {
  constructor(variable: string, problem: string, value: string) {
    super(`Invalid ${variable}=${JSON.stringify(value)}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number from ${min} to ${max}`, raw);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max}`, raw);
  return value;
}

function text(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

/** A secret (signing key, admin token): long enough not to be guessed, never echoed in the error. */
function secret(env: Env, name: string): string | undefined {
  const raw = text(env, name);
  if (raw !== undefined && raw.length < 16)
    throw new ConfigError(name, 'must be at least 16 characters (use a long random string)', '<hidden>');
  return raw;
}

function redisUrl(env: Env): string | undefined {
  const raw = text(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'must be a URL such as redis://127.0.0.1:6379', raw);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://', raw);
  }
  return raw;
}

/** HOST:PORT as nginx's `listen` and a URL both spell it: an IPv6 address in brackets (`[::1]:8080`). */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/** nginx's URL on this machine (HOST:PORT; a wildcard HOST is reached on loopback). */
export function frontUrl(config: Pick<Config, 'host' | 'port'>): string {
  const loopback = config.host === '0.0.0.0' ? '127.0.0.1' : config.host === '::' ? '::1' : config.host;
  return `http://${hostPort(loopback, config.port)}`;
}

/** An http(s) base URL without query or fragment, trailing slashes dropped; undefined when it is not one. */
export function serviceBaseUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) return undefined;
  return raw.replace(/\/+$/, '');
}

function segmentsUrl(env: Env): string | undefined {
  const raw = text(env, 'SEGMENTS_URL');
  if (raw === undefined) return undefined;
  const url = serviceBaseUrl(raw);
  if (!url) throw new ConfigError('SEGMENTS_URL', 'must be the base URL of the service, such as http://127.0.0.1:8080', raw);
  return url;
}

/** A header name as HTTP spells one (RFC 9110 token); a value without line breaks. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function mediaOrigin(env: Env): MediaOrigin | undefined {
  const raw = text(env, 'MEDIA_ORIGIN');
  const rawHeaders = text(env, 'MEDIA_ORIGIN_HEADERS');
  if (raw === undefined) {
    if (rawHeaders !== undefined) throw new ConfigError('MEDIA_ORIGIN_HEADERS', 'is set but MEDIA_ORIGIN is not', '<hidden>');
    return undefined;
  }
  const url = serviceBaseUrl(raw);
  if (!url || new URL(url).username || new URL(url).password) {
    throw new ConfigError(
      'MEDIA_ORIGIN',
      'must be an http(s) base URL without credentials, query or fragment, such as https://media.example.com/podcasts',
      raw,
    );
  }
  return {
    url,
    headers: originHeaders(rawHeaders),
    timeoutMs: integer(env, 'ORIGIN_TIMEOUT_MS', 10_000, 100, 600_000),
    retries: integer(env, 'ORIGIN_RETRIES', 2, 0, 10),
    maxConcurrent: integer(env, 'ORIGIN_MAX_CONCURRENT', 8, 1, 1_000),
  };
}

/** MEDIA_ORIGIN_HEADERS: a JSON object of header names to string values (an auth token, say); never echoed. */
function originHeaders(raw: string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  const invalid = () =>
    new ConfigError(
      'MEDIA_ORIGIN_HEADERS',
      'must be a JSON object of header names to string values, such as {"Authorization":"Bearer …"}',
      '<hidden>',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!HEADER_NAME.test(name) || typeof value !== 'string' || /[\r\n\0]/.test(value)) throw invalid();
    // Range and Host are the reader's own: an operator's value would break reads or pinning.
    if (/^(range|host|content-length|connection)$/i.test(name)) throw invalid();
    headers[name] = value;
  }
  return headers;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function parseConfig(env: Env): Config {
  const logLevel = text(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`, logLevel);
  const port = integer(env, 'PORT', 8080, 1, 65535);
  const apiPort = integer(env, 'API_PORT', 3000, 1, 65535);
  if (port === apiPort) throw new ConfigError('API_PORT', 'must differ from PORT', String(apiPort));
  return Object.freeze({
    host: text(env, 'HOST') ?? '127.0.0.1',
    port,
    apiPort,
    mediaRoot: path.resolve(text(env, 'MEDIA_ROOT') ?? path.join(PROJECT_ROOT, 'fixtures', 'media')),
    mediaOrigin: mediaOrigin(env),
    dataDir: path.resolve(text(env, 'DATA_DIR') ?? path.join(PROJECT_ROOT, '.data')),
    redisUrl: redisUrl(env),
    workers: integer(env, 'WORKERS', Math.max(1, os.availableParallelism()), 1, 256),
    ffmpegPath: text(env, 'FFMPEG_PATH'),
    ffprobePath: text(env, 'FFPROBE_PATH'),
    waitTimeoutMs: integer(env, 'WAIT_TIMEOUT_MS', 30_000, 100, 3_600_000),
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 2_000, 100, 60_000),
    renderTimeoutMs: integer(env, 'RENDER_TIMEOUT_MS', 120_000, 1_000, 3_600_000),
    maxSegmentSeconds: integer(env, 'MAX_SEGMENT_SECONDS', 3_600, 1, 86_400),
    cacheMaxAgeSeconds: integer(env, 'CACHE_MAX_AGE_SECONDS', 86_400, 0, 31_536_000),
    peaksMaxAgeSeconds: integer(env, 'PEAKS_MAX_AGE_SECONDS', 60, 0, 31_536_000),
    maxWaitingRequests: integer(env, 'MAX_WAITING_REQUESTS', 10_000, 1, 1_000_000),
    maxQueueDepth: integer(env, 'MAX_QUEUE_DEPTH', 10_000, 1, 10_000_000),
    storeMaxBytes: integer(env, 'STORE_MAX_BYTES', 10 * 1024 ** 3, 1_048_576, Number.MAX_SAFE_INTEGER),
    hotCacheMaxBytes: integer(env, 'HOT_CACHE_MAX_BYTES', 64 * 1024 ** 2, 0, Number.MAX_SAFE_INTEGER),
    frameIndexMaxBytes: integer(env, 'FRAME_INDEX_MAX_BYTES', 64 * 1024 ** 2, 0, Number.MAX_SAFE_INTEGER),
    storeEvictGraceMs: integer(env, 'STORE_EVICT_GRACE_MS', 60_000, 0, 86_400_000),
    probeTimeoutMs: integer(env, 'PROBE_TIMEOUT_MS', 10_000, 500, 600_000),
    signingKey: secret(env, 'SIGNING_KEY'),
    adminToken: secret(env, 'ADMIN_TOKEN'),
    // Lock 5 s, stalled check every 2.5 s: a dead worker's job runs again within about 7.5 s (BullMQ's
    // 30 s defaults leave it for 30-90 s).
    jobLockMs: integer(env, 'JOB_LOCK_MS', 5_000, 1_000, 600_000),
    nginxCacheMaxBytes: integer(env, 'NGINX_CACHE_MAX_BYTES', 1_073_741_824, 1_048_576, Number.MAX_SAFE_INTEGER),
    segmentsUrl: segmentsUrl(env),
    logLevel,
  });
}

/** For process entries: parse, or print the one line and exit. */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

/** The configuration as environment variables, so every process the stack starts parses the same values. */
export function configToEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {
    HOST: config.host,
    PORT: String(config.port),
    API_PORT: String(config.apiPort),
    MEDIA_ROOT: config.mediaRoot,
    DATA_DIR: config.dataDir,
    WORKERS: String(config.workers),
    WAIT_TIMEOUT_MS: String(config.waitTimeoutMs),
    REDIS_COMMAND_TIMEOUT_MS: String(config.redisCommandTimeoutMs),
    RENDER_TIMEOUT_MS: String(config.renderTimeoutMs),
    MAX_SEGMENT_SECONDS: String(config.maxSegmentSeconds),
    CACHE_MAX_AGE_SECONDS: String(config.cacheMaxAgeSeconds),
    PEAKS_MAX_AGE_SECONDS: String(config.peaksMaxAgeSeconds),
    MAX_WAITING_REQUESTS: String(config.maxWaitingRequests),
    MAX_QUEUE_DEPTH: String(config.maxQueueDepth),
    STORE_MAX_BYTES: String(config.storeMaxBytes),
    HOT_CACHE_MAX_BYTES: String(config.hotCacheMaxBytes),
    FRAME_INDEX_MAX_BYTES: String(config.frameIndexMaxBytes),
    STORE_EVICT_GRACE_MS: String(config.storeEvictGraceMs),
    PROBE_TIMEOUT_MS: String(config.probeTimeoutMs),
    JOB_LOCK_MS: String(config.jobLockMs),
    NGINX_CACHE_MAX_BYTES: String(config.nginxCacheMaxBytes),
    LOG_LEVEL: config.logLevel,
  };
  if (config.redisUrl) env.REDIS_URL = config.redisUrl;
  if (config.ffmpegPath) env.FFMPEG_PATH = config.ffmpegPath;
  if (config.ffprobePath) env.FFPROBE_PATH = config.ffprobePath;
  if (config.signingKey) env.SIGNING_KEY = config.signingKey;
  if (config.adminToken) env.ADMIN_TOKEN = config.adminToken;
  if (config.mediaOrigin) {
    env.MEDIA_ORIGIN = config.mediaOrigin.url;
    if (Object.keys(config.mediaOrigin.headers).length > 0) env.MEDIA_ORIGIN_HEADERS = JSON.stringify(config.mediaOrigin.headers);
    env.ORIGIN_TIMEOUT_MS = String(config.mediaOrigin.timeoutMs);
    env.ORIGIN_RETRIES = String(config.mediaOrigin.retries);
    env.ORIGIN_MAX_CONCURRENT = String(config.mediaOrigin.maxConcurrent);
  }
  return env;
}
