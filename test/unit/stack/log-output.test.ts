// What `npm start` prints (issue 18): on a pipe each JSON line exactly as it came, plain lines as JSON events
// at their level; on a terminal one pretty line per event and never the JSON; Redis's and nginx's lines at
// the level they deserve.
import { describe, expect, it } from 'vitest';
import { createStackOutput } from '../../../src/stack/log-output.js';
import { nginxLineLevel } from '../../../src/stack/nginx-front.js';
import { redisLineLevel } from '../../../src/stack/private-redis.js';

function output(isTTY: boolean, level = 'info') {
  const written: string[] = [];
  return { written, out: createStackOutput({ isTTY, write: (text: string) => written.push(text) }, level) };
}

const WORKER_LINE = '{"level":30,"time":1796266281047,"pid":6815,"name":"worker","lockMs":5000,"msg":"worker ready"}';

describe('createStackOutput on a pipe or a file', () => {
  it('passes a JSON log line on exactly as it came, once', () => {
    const { written, out } = output(false);
    out.sink('worker', WORKER_LINE);
    expect(written).toEqual([`${WORKER_LINE}\n`]);
  });

  it('makes a plain line a JSON event at its level, and drops it below LOG_LEVEL', () => {
    const { written, out } = output(false);
    out.sink('redis', 'Ready to accept connections', 'debug');
    out.sink('nginx', 'nginx: [emerg] bind() failed', 'error');
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0] ?? '')).toMatchObject({ level: 50, name: 'nginx', msg: 'nginx: [emerg] bind() failed' });
  });

  it('gives the ready banner as one JSON event with each URL', () => {
    const { written, out } = output(false);
    out.ready([{ key: 'demo', label: 'demo page', url: 'http://127.0.0.1:8080/' }], 'Ctrl-C stops it.');
    expect(JSON.parse(written.join(''))).toMatchObject({ level: 30, msg: 'ready', demo: 'http://127.0.0.1:8080/' });
  });
});

describe('createStackOutput on a terminal', () => {
  it('shows a JSON log line as one pretty line, never the JSON itself', () => {
    const { written, out } = output(true);
    out.sink('worker', WORKER_LINE);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/INFO.*\(worker\/6815\).*worker ready/);
    expect(written[0]).not.toContain('"level"');
    expect(written[0]?.trimEnd().split('\n')).toHaveLength(1);
  });

  it('shows the ready banner as text: the demo page first, and how to stop', () => {
    const { written, out } = output(true);
    out.ready(
      [
        { key: 'demo', label: 'demo page', url: 'http://127.0.0.1:8080/' },
        { key: 'segment', label: 'a segment', url: 'http://127.0.0.1:8080/segments/demo/tones/10-20.mp3' },
      ],
      'Ctrl-C stops every process it started.',
    );
    const text = written.join('');
    expect(text.indexOf('http://127.0.0.1:8080/ ')).toBeLessThan(text.indexOf('/segments/'));
    expect(text).toContain('Ctrl-C stops every process it started.');
  });
});

describe('the level of a plain line', () => {
  it("puts Redis's banner, routine lines and advice needing no action at debug, its failures at error", () => {
    for (const chatter of [
      '6800:C 03 Dec 2026 02:51:20.412 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo',
      '6800:M 03 Dec 2026 02:51:20.413 # Server initialized',
      '6800:M 03 Dec 2026 02:51:20.413 # WARNING Memory overcommit must be enabled! Without it, a background save or replication may fail under low memory condition.',
      '6800:M 03 Dec 2026 02:51:20.435 * Ready to accept connections',
      '6800:M 03 Dec 2026 02:51:30.571 # Redis is now ready to exit, bye bye...',
    ])
      expect(redisLineLevel(chatter, 'stdout'), chatter).toBe('debug');
    for (const failure of [
      "6800:M 03 Dec 2026 02:51:20.413 # Can't open the append-only file: Permission denied",
      '6800:M 03 Dec 2026 02:51:20.413 # Failed listening on port 6379 (tcp), aborting.',
    ])
      expect(redisLineLevel(failure, 'stdout'), failure).toBe('error');
  });

  it("reads nginx's own level from its line", () => {
    expect(nginxLineLevel('nginx: [emerg] bind() to 127.0.0.1:8080 failed (98: Address in use)', 'stderr')).toBe('error');
    expect(nginxLineLevel('nginx: [warn] the "user" directive makes sense only if the master process runs as root', 'stderr')).toBe('warn');
    expect(nginxLineLevel('nginx: [notice] signal process started', 'stderr')).toBe('debug');
  });
});
