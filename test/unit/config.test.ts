import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, frontUrl, parseConfig, PROJECT_ROOT } from '../../src/config.js';

const checkout = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function configError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('parseConfig defaults (DESIGN.md)', () => {
  const config = parseConfig({});

  it('finds the checkout as the project root', () => {
    expect(PROJECT_ROOT).toBe(checkout);
  });

  it('serves the public port 8080 and the API on 3000', () => {
    expect(config.port).toBe(8080);
    expect(config.apiPort).toBe(3000);
  });

  it('starts one worker per CPU core', () => {
    expect(config.workers).toBe(os.availableParallelism());
  });

  it('keeps its data in .data and serves the bundled media from fixtures/media in the checkout', () => {
    expect(config.dataDir).toBe(path.join(checkout, '.data'));
    expect(config.mediaRoot).toBe(path.join(checkout, 'fixtures', 'media'));
  });

  it('lets a request wait 30 s for its render', () => {
    expect(config.waitTimeoutMs).toBe(30_000);
  });

  it('starts a private Redis and uses the bundled ffmpeg unless told otherwise', () => {
    expect(config.redisUrl).toBeUndefined();
    expect(config.ffmpegPath).toBeUndefined();
  });

  it('limits waiting requests and queued renders to 10 000 each, the store to 10 GiB, and signs nothing', () => {
    expect(config.maxWaitingRequests).toBe(10_000);
    expect(config.maxQueueDepth).toBe(10_000);
    expect(config.storeMaxBytes).toBe(10 * 1024 ** 3);
    expect(config.signingKey).toBeUndefined();
  });

  it("keeps 64 MiB of source frame indexes in each worker, like the API's memory copy of hot renders", () => {
    expect(config.frameIndexMaxBytes).toBe(64 * 1024 ** 2);
    expect(config.hotCacheMaxBytes).toBe(64 * 1024 ** 2);
  });

  it('has no queue dashboard unless ADMIN_TOKEN is set', () => {
    expect(config.adminToken).toBeUndefined();
  });

  it("takes up a dead worker's job within about 7.5 s (lock 5 s), not BullMQ's 30-90 s", () => {
    expect(config.jobLockMs).toBe(5_000);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ PORT: '', WORKERS: '', REDIS_URL: ' ', LOG_LEVEL: '' })).toEqual(config);
  });
});

describe('parseConfig values', () => {
  it('reads every documented variable', () => {
    const config = parseConfig({
      PORT: '9090',
      API_PORT: ' 4000 ',
      MEDIA_ROOT: '/srv/media',
      DATA_DIR: '/var/lib/segments',
      REDIS_URL: 'redis://10.0.0.5:6380/2',
      WORKERS: '3',
      FFMPEG_PATH: '/usr/bin/ffmpeg',
      WAIT_TIMEOUT_MS: '5000',
      MAX_QUEUE_DEPTH: '50',
      STORE_MAX_BYTES: '2097152',
      STORE_EVICT_GRACE_MS: '0',
      PROBE_TIMEOUT_MS: '2000',
      SIGNING_KEY: 'a-long-enough-secret',
      ADMIN_TOKEN: 'another-long-secret',
      FRAME_INDEX_MAX_BYTES: '0',
    });
    expect(config).toMatchObject({
      port: 9090,
      apiPort: 4000,
      mediaRoot: '/srv/media',
      dataDir: '/var/lib/segments',
      redisUrl: 'redis://10.0.0.5:6380/2',
      workers: 3,
      ffmpegPath: '/usr/bin/ffmpeg',
      waitTimeoutMs: 5_000,
      maxQueueDepth: 50,
      storeMaxBytes: 2_097_152,
      storeEvictGraceMs: 0,
      probeTimeoutMs: 2_000,
      signingKey: 'a-long-enough-secret',
      adminToken: 'another-long-secret',
      frameIndexMaxBytes: 0,
    });
  });

  it('makes relative directories absolute', () => {
    expect(parseConfig({ DATA_DIR: 'some/data' }).dataDir).toBe(path.resolve('some/data'));
  });

  it('accepts rediss:// URLs', () => {
    expect(parseConfig({ REDIS_URL: 'rediss://cache.example:6379' }).redisUrl).toBe('rediss://cache.example:6379');
  });
});

describe('parseConfig refusals name the variable', () => {
  it.each([
    [{ PORT: 'abc' }, 'Invalid PORT="abc": must be a whole number from 1 to 65535'],
    [{ PORT: '0' }, 'Invalid PORT="0": must be a whole number from 1 to 65535'],
    [{ PORT: '65536' }, 'Invalid PORT="65536": must be a whole number from 1 to 65535'],
    [{ PORT: '80.5' }, 'Invalid PORT="80.5": must be a whole number from 1 to 65535'],
    [{ PORT: '-1' }, 'Invalid PORT="-1": must be a whole number from 1 to 65535'],
    [{ API_PORT: '1e3' }, 'Invalid API_PORT="1e3": must be a whole number from 1 to 65535'],
    [{ WORKERS: '0' }, 'Invalid WORKERS="0": must be a whole number from 1 to 256'],
    [{ WORKERS: 'many' }, 'Invalid WORKERS="many": must be a whole number from 1 to 256'],
    [{ WAIT_TIMEOUT_MS: '30s' }, 'Invalid WAIT_TIMEOUT_MS="30s": must be a whole number from 100 to 3600000'],
    [{ REDIS_URL: 'not-a-url' }, 'Invalid REDIS_URL="not-a-url": must be a URL such as redis://127.0.0.1:6379'],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, 'Invalid REDIS_URL="http://127.0.0.1:6379": must start with redis:// or rediss://'],
    [{ LOG_LEVEL: 'loud' }, 'Invalid LOG_LEVEL="loud": must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ MAX_QUEUE_DEPTH: '0' }, 'Invalid MAX_QUEUE_DEPTH="0": must be a whole number from 1 to 10000000'],
    [{ STORE_MAX_BYTES: '10G' }, 'Invalid STORE_MAX_BYTES="10G": must be a whole number from 1048576 to 9007199254740991'],
    [{ PROBE_TIMEOUT_MS: '100' }, 'Invalid PROBE_TIMEOUT_MS="100": must be a whole number from 500 to 600000'],
    [{ SIGNING_KEY: 'short' }, 'Invalid SIGNING_KEY="<hidden>": must be at least 16 characters (use a long random string)'],
    [{ ADMIN_TOKEN: 'short' }, 'Invalid ADMIN_TOKEN="<hidden>": must be at least 16 characters (use a long random string)'],
    [{ PORT: '4000', API_PORT: '4000' }, 'Invalid API_PORT="4000": must differ from PORT'],
    [{ PORT: '3000' }, 'Invalid API_PORT="3000": must differ from PORT'],
  ])('refuses %j', (env, message) => {
    const error = configError(env);
    expect(error.message).toBe(message);
    expect(error.name).toBe('ConfigError');
  });
});

describe('SEGMENTS_URL (the segments CLI)', () => {
  it('is unset by default (render and probe work locally) and drops a trailing slash', () => {
    expect(parseConfig({}).segmentsUrl).toBeUndefined();
    expect(parseConfig({ SEGMENTS_URL: 'https://clips.example.com:8443/' }).segmentsUrl).toBe('https://clips.example.com:8443');
  });

  it.each(['localhost:8080', 'ftp://host', 'http://host/?x=1', 'not a url'])('refuses %j naming the variable', (value) => {
    expect(configError({ SEGMENTS_URL: value }).message).toBe(
      `Invalid SEGMENTS_URL=${JSON.stringify(value)}: must be the base URL of the service, such as http://127.0.0.1:8080`,
    );
  });
});

describe('frontUrl (where npm start and the CLI reach nginx)', () => {
  it.each([
    ['127.0.0.1', 'http://127.0.0.1:8080'],
    ['0.0.0.0', 'http://127.0.0.1:8080'],
    ['::1', 'http://[::1]:8080'],
    ['::', 'http://[::1]:8080'],
    ['fd00::2', 'http://[fd00::2]:8080'],
  ])('HOST=%s is reached at %s', (host, url) => {
    expect(frontUrl({ host, port: 8080 })).toBe(url);
    expect(new URL(url).port).toBe('8080');
  });
});
