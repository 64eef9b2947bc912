import { describe, expect, it } from 'vitest';
import { ConfigError, configToEnv, parseConfig } from '../../src/config.js';

function refusal(env: Record<string, string>): string {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('MEDIA_ORIGIN and its settings', () => {
  it('is off by default: sources come from MEDIA_ROOT', () => {
    expect(parseConfig({}).mediaOrigin).toBeUndefined();
  });

  it('takes an http(s) base URL, trailing slashes dropped, with named defaults for its limits', () => {
    expect(parseConfig({ MEDIA_ORIGIN: 'https://media.example.com/podcasts/' }).mediaOrigin).toEqual({
      url: 'https://media.example.com/podcasts',
      headers: {},
      timeoutMs: 10_000,
      retries: 2,
      maxConcurrent: 8,
    });
  });

  it('refuses what is not an http(s) base URL, naming the variable', () => {
    for (const bad of ['ftp://host/x', 'https://host/x?sig=1', 'https://host/#a', 'https://user:pw@host/x', 'not a url']) {
      expect(refusal({ MEDIA_ORIGIN: bad }), bad).toMatch(/^Invalid MEDIA_ORIGIN=/);
    }
  });

  it('takes static headers as a JSON object and never echoes them when refused', () => {
    const origin = parseConfig({
      MEDIA_ORIGIN: 'http://10.0.0.5:9000/media',
      MEDIA_ORIGIN_HEADERS: '{"Authorization":"Bearer s3cr3t"}',
    }).mediaOrigin;
    expect(origin?.headers).toEqual({ Authorization: 'Bearer s3cr3t' });
    for (const bad of [
      '[1]',
      '{"Authorization":1}',
      '{"Bad Name":"x"}',
      '{"X-A":"a\\r\\nHost: evil"}',
      '{"Range":"bytes=0-"}',
      'Bearer s3cr3t',
    ]) {
      const message = refusal({ MEDIA_ORIGIN: 'http://origin/media', MEDIA_ORIGIN_HEADERS: bad });
      expect(message, bad).toMatch(/^Invalid MEDIA_ORIGIN_HEADERS=/);
      expect(message).not.toContain('s3cr3t');
    }
    expect(refusal({ MEDIA_ORIGIN_HEADERS: '{}' })).toMatch(/MEDIA_ORIGIN is not/);
  });

  it('bounds its timeout, retries and concurrency', () => {
    expect(refusal({ MEDIA_ORIGIN: 'http://origin/m', ORIGIN_TIMEOUT_MS: '5' })).toMatch(/^Invalid ORIGIN_TIMEOUT_MS=/);
    expect(refusal({ MEDIA_ORIGIN: 'http://origin/m', ORIGIN_RETRIES: '11' })).toMatch(/^Invalid ORIGIN_RETRIES=/);
    expect(refusal({ MEDIA_ORIGIN: 'http://origin/m', ORIGIN_MAX_CONCURRENT: '0' })).toMatch(/^Invalid ORIGIN_MAX_CONCURRENT=/);
  });

  it('reaches every process the stack starts unchanged', () => {
    const config = parseConfig({ MEDIA_ORIGIN: 'http://origin/m', MEDIA_ORIGIN_HEADERS: '{"X-Key":"k"}', ORIGIN_RETRIES: '4' });
    expect(parseConfig(configToEnv(config)).mediaOrigin).toEqual(config.mediaOrigin);
  });
});
