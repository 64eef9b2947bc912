// Owns the one classification of failures (issue 14): permanent, when the source's bytes cannot give what
// is asked and another attempt would fail the same way, or passing (I/O, memory, open files, permissions,
// spawn, signals, time limits), when another attempt may succeed. Decided from errno codes and a tool's
// exit facts; ffmpeg's stderr is read only with the text a user controls (the paths it echoes) taken out.

export type FaultKind = 'permanent' | 'passing';

/**
 * The system errors ffmpeg and ffprobe report as text (strerror's wording, as glibc spells it), by errno
 * code: none of them says anything about the bytes of a file.
 */
const STRERROR: Readonly<Record<string, string>> = {
  EIO: 'Input/output error',
  ENOMEM: 'Cannot allocate memory',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EAGAIN: 'Resource temporarily unavailable',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EROFS: 'Read-only file system',
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  ETIMEDOUT: 'Connection timed out',
  ESTALE: 'Stale file handle',
  EBUSY: 'Device or resource busy',
  EINTR: 'Interrupted system call',
  ENXIO: 'No such device or address',
  ECONNRESET: 'Connection reset by peer',
  EHOSTUNREACH: 'No route to host',
};
const ERRNO_OF_STRERROR = new Map(Object.entries(STRERROR).map(([code, text]) => [text, code]));

/**
 * The errno code of a Node system error (a failed fs call or spawn: EIO, EMFILE, ENOSPC...), or null for
 * any other error. Every system error is a passing fault: a call that failed says nothing about the bytes.
 */
export function systemErrorCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  // Node's own ERR_* codes (an overflowed buffer, a bad argument) are not errno codes.
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : null;
}

/** How a run of ffmpeg or ffprobe ended, as facts. */
export interface ToolExit {
  /** It never ran: spawning it failed with this errno code (ENOENT, EACCES, EAGAIN, EMFILE...). */
  spawnError?: string | null;
  /** It was killed by this signal (the OOM killer, a stop, our time limit). */
  signal?: string | null;
  /** Its exit code. */
  code?: number | null;
  /** What it wrote to stderr (its tail). */
  stderr: string;
  /** Text a user controls that stderr may echo (the input's paths and URLs): never read as ffmpeg's words. */
  userText: string[];
}

/**
 * The strings of these input paths and URLs that ffmpeg may echo: each whole, each part of a concat: URL,
 * and the inner URL or path of each (a subfile,,...,:file:/path URL is reported by its inner one too).
 * Only tails that begin a path or a file: URL: a tail of a name ("x: Permission denied.mp3" holds
 * " Permission denied.mp3") must not take ffmpeg's own words out.
 */
export function userTextOf(urls: string[]): string[] {
  const parts = urls.flatMap((url) => [url, ...url.split('|')]);
  const inner = (part: string) => [...part.matchAll(/:(?=\/|file:)/g)].map((colon) => part.slice(colon.index + 1));
  return parts.flatMap((part) => [part, ...inner(part)]);
}

/** A classified failure: its kind, and the system error behind it when one is known. */
export interface Fault {
  kind: FaultKind;
  errno: string | null;
}

/** ffmpeg ends itself with 255 when it received SIGINT or SIGTERM ("Exiting normally, received signal"). */
const FFMPEG_SIGNALLED_EXIT = 255;

export function classifyExit(exit: ToolExit): Fault {
  if (exit.spawnError) return { kind: 'passing', errno: exit.spawnError };
  if (exit.signal || exit.code === FFMPEG_SIGNALLED_EXIT) return { kind: 'passing', errno: null };
  const errno = systemErrorInStderr(exit.stderr, exit.userText);
  return { kind: errno ? 'passing' : 'permanent', errno };
}

/**
 * The system error ffmpeg reported in its own words, or null. Every user text is removed first (a file
 * named "x: Permission denied.mp3" must not read as one), lines that begin with a space are skipped (they
 * print the input's tags and streams, its own text), and a line counts only when what follows its last
 * ': ' is exactly a strerror text ("/m/x.mp3: Input/output error", "Error opening output files: Permission denied").
 */
export function systemErrorInStderr(stderr: string, userText: string[]): string | null {
  let text = stderr;
  // Longest first: a URL is removed whole before the path inside it.
  for (const user of userText.filter((item) => item.length > 0).sort((a, b) => b.length - a.length)) text = text.split(user).join('\0');
  for (const line of text.split('\n')) {
    const cut = line.lastIndexOf(': ');
    if (/^\s/.test(line) || cut < 0) continue;
    const errno = ERRNO_OF_STRERROR.get(line.slice(cut + 2).trim());
    if (errno) return errno;
  }
  return null;
}
