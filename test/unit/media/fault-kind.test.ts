// The one classification of failures (src/media/fault-kind.ts): permanent or passing, from errno codes and
// exit facts; ffmpeg's stderr read only where no user path can write.
import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { classifyExit, systemErrorCode, type ToolExit, userTextOf } from '../../../src/media/fault-kind.js';

/** An ffmpeg that exited 1 on its input `url`, having written `stderr`. */
const exited = (stderr: string, url: string): ToolExit => ({ code: 1, stderr, userText: [url] });

describe('classifying a failure', () => {
  it('a Node system error is passing, whatever its code; other errors have no errno', async () => {
    const missing = await open('/no/such/folder/file.mp3').catch((error: unknown) => error);
    expect(systemErrorCode(missing)).toBe('ENOENT');
    expect(systemErrorCode(Object.assign(new Error('read'), { code: 'EIO' }))).toBe('EIO');
    expect(systemErrorCode(Object.assign(new Error('too much'), { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER' }))).toBeNull();
    expect(systemErrorCode(new Error('the source is not MP3'))).toBeNull();
    expect(systemErrorCode(null)).toBeNull();
  });

  it.each(['ENOENT', 'EACCES', 'EAGAIN', 'EMFILE'])('a tool that could not be spawned (%s) is passing', (code) => {
    expect(classifyExit({ spawnError: code, stderr: '', userText: [] })).toEqual({ kind: 'passing', errno: code });
  });

  it('a tool killed by a signal, or an ffmpeg that stopped itself on one (exit 255), is passing', () => {
    expect(classifyExit({ signal: 'SIGKILL', stderr: 'Invalid data found when processing input', userText: [] }).kind).toBe('passing');
    expect(classifyExit({ code: 255, stderr: '', userText: [] }).kind).toBe('passing');
  });

  it.each([
    ['/media/net/a.mp3: Input/output error', 'EIO'],
    ['Error while decoding stream #0:0: Cannot allocate memory', 'ENOMEM'],
    ['/media/net/a.mp3: Too many open files', 'EMFILE'],
    ['/store/.tmp/k.1.h.0a0b0c0d.mp3: Permission denied', 'EACCES'],
    ['/store/.tmp/k.1.h.0a0b0c0d.mp3: Read-only file system', 'EROFS'],
    ['av_interleaved_write_frame(): No space left on device', 'ENOSPC'],
    ['Error opening output files: Not a directory', 'ENOTDIR'],
  ])('an exit whose stderr reports a system error in ffmpeg\'s words ("%s") is passing', (line, errno) => {
    const stderr = `Input #0, mp3, from '/media/net/a.mp3':\n  Duration: 00:01:30.00\n${line}`;
    expect(classifyExit(exited(stderr, '/media/net/a.mp3'))).toEqual({ kind: 'passing', errno });
  });

  it('an exit on data ffmpeg cannot read is permanent', () => {
    const url = '/media/bad/not-audio.mp3';
    expect(classifyExit(exited(`${url}: Invalid data found when processing input`, url))).toEqual({ kind: 'permanent', errno: null });
  });

  it.each(['spawn', 'EAGAIN', 'received signal', 'killed with signal', 'ENOENT'])(
    'a broken source whose path says "%s" is still permanent',
    (word) => {
      const url = `/media/bad/${word} take.mp3`;
      expect(classifyExit(exited(`${url}: Invalid data found when processing input`, url)).kind).toBe('permanent');
    },
  );

  it('a path that spells a system error is not read as one, nor a tag that does', () => {
    const url = '/media/bad/x: Permission denied';
    const stderr = [
      `Input #0, mp3, from '${url}':`,
      '  Metadata:',
      '    title           : Input/output error',
      `[mp3 @ 0x55d] Failed to read frame size: Could not seek to 1026.`,
      `${url}: Invalid argument`,
      url,
    ].join('\n');
    expect(classifyExit(exited(stderr, url))).toEqual({ kind: 'permanent', errno: null });
  });

  it('a name that spells a system error does not hide the real one', () => {
    const url = '/media/net/x: Input/output error.mp3';
    const exit: ToolExit = { code: 1, stderr: `${url}: Input/output error`, userText: userTextOf([url]) };
    expect(classifyExit(exit)).toEqual({ kind: 'passing', errno: 'EIO' });
  });

  it('the path inside a subfile: or concat: URL is taken out as well as the URL', () => {
    const file = '/media/bad/y: No space left on device';
    const url = `concat:subfile,,start,0,end,9,,:file:${file}|subfile,,start,20,end,99,,:file:${file}`;
    const exit: ToolExit = { code: 1, stderr: `${url}: Invalid data found\nfile:${file}\n${file}`, userText: userTextOf([url]) };
    expect(classifyExit(exit).kind).toBe('permanent');
  });
});
