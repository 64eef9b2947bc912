// The built `segments` command line, run as a user runs it: output, exit codes, one-line errors.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/config.js';

const CLI = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'segments.js');
const KEY = '0123456789abcdef-secret';

function segments(args: string[], env: Record<string, string> = {}) {
  const { SIGNING_KEY: _unset, ...rest } = process.env;
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...rest, ...env } });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe('segments', () => {
  it('without a command prints the commands and exits 64; --help exits 0', () => {
    const bare = segments([]);
    expect(bare.code).toBe(64);
    expect(bare.out).toMatch(/Usage: segments <command>[\s\S]*sign\s+print a segment URL signed/);
    expect(segments(['--help']).code).toBe(0);
  });

  it('an unknown command is one line naming it, and exit 64', () => {
    const { code, err } = segments(['purge-all']);
    expect(code).toBe(64);
    expect(err).toMatch(/^segments: unknown command 'purge-all'\./);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it.each(['render', 'warm', 'purge', 'probe', 'sign', 'nginx-config'])('%s --help prints its usage and exits 0', (name) => {
    const { code, out, err } = segments([name, '--help']);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out).toMatch(new RegExp(`^Usage: segments ${name}`));
    expect(segments(['--help']).out).toMatch(new RegExp(`\\n  ${name} +\\S`));
  });

  it('sign --help explains the command', () => {
    const { code, out } = segments(['sign', '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: segments sign <url>/);
  });

  it('sign prints the canonical URL with its signature last (the same signature openssl computes)', () => {
    const { code, out } = segments(['sign', '/segments/demo/tones/010-20.50.mp3?mode=exact&bitrate=128'], { SIGNING_KEY: KEY });
    expect(code).toBe(0);
    expect(out).toBe('/segments/demo/tones/10-20.5.mp3?mode=exact&sig=HqBsxaCMU6QBEZoeij0US_57mcGzA3Rv_lKiWLTVMbc\n');
  });

  it('sign keeps the scheme and host of a whole URL and replaces a signature already there', () => {
    const { code, out } = segments(['sign', 'http://127.0.0.1:8080/segments/demo/tones/10-20.5.mp3?sig=old&mode=exact'], {
      SIGNING_KEY: KEY,
    });
    expect(code).toBe(0);
    expect(out).toBe('http://127.0.0.1:8080/segments/demo/tones/10-20.5.mp3?mode=exact&sig=HqBsxaCMU6QBEZoeij0US_57mcGzA3Rv_lKiWLTVMbc\n');
  });

  it.each([
    [['sign', '/segments/demo/tones/1-2.mp3'], {}, 2, /^segments: SIGNING_KEY is not set/],
    [['sign', '/segments/demo/tones/1-2.mp3'], { SIGNING_KEY: 'short' }, 78, /^segments: Invalid SIGNING_KEY="<hidden>"/],
    [['sign', '/segments/demo/tones/2-1.mp3'], { SIGNING_KEY: KEY }, 2, /^segments: 'end' \(1\) must be greater than 'start' \(2\)\./],
    [['sign', '/segments/demo/tones/1-2.mp3?speed=2'], { SIGNING_KEY: KEY }, 2, /^segments: Unknown query parameter 'speed'/],
    [['sign'], { SIGNING_KEY: KEY }, 64, /^segments: sign takes one URL\./],
  ])('sign %j with %j exits %i with one clear line', (args, env, exitCode, message) => {
    const { code, err } = segments(args, env as Record<string, string>);
    expect(code).toBe(exitCode);
    expect(err).toMatch(message);
    expect(err).not.toMatch(/\n\s+at /);
  });
});
