// The one module that runs ffmpeg and ffprobe. Nothing else knows how they are driven. Renders go through
// fluent-ffmpeg (archived upstream; its quirks handled here: an 'error' listener is mandatory, binary paths
// are process-global, kill() defaults to SIGKILL). Probes run ffprobe directly: fluent-ffmpeg's ffprobe()
// hides its child process, so a probe that hangs could never be killed.
import { execFile } from 'node:child_process';
import { access, chmod, constants } from 'node:fs/promises';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import ffprobeInstaller from '@ffprobe-installer/ffprobe';
import ffmpeg from 'fluent-ffmpeg';
import { classifyExit, type ToolExit, userTextOf } from './fault-kind.js';
import { progressSeconds } from './ffmpeg-progress.js';

export interface FfmpegInput {
  /** A path, a URL, or STDIN_URL: the bytes the caller streams into ffmpeg (render's `stdin`). */
  url: string;
  options: string[];
}

/** The input ffmpeg reads from its stdin. */
export const STDIN_URL = 'pipe:0';

/** What one ffmpeg run is given: its inputs, each with its own options, and the output's options. */
export interface FfmpegArguments {
  inputs: FfmpegInput[];
  outputOptions: string[];
}

export interface AudioProbe {
  formatName: string;
  codecName: string;
  durationSeconds: number;
  sampleRate: number;
  channels: number;
  bitRate: number;
}

/**
 * ffmpeg or ffprobe ran and refused its input (exit non-zero, no system error reported): the source's bytes
 * cannot be read or cut, a permanent failure (fault-kind.ts). Carries the tail of stderr for the log.
 */
export class FfmpegFailed extends Error {
  constructor(
    message: string,
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'FfmpegFailed';
  }
}

/**
 * ffmpeg or ffprobe did not do its work for a reason outside its input's bytes: it could not be spawned
 * (EMFILE, EAGAIN, ENOENT), was killed by a signal we did not send (a stop, the OOM killer), or reported a
 * system error (EIO from a network MEDIA_ROOT, ENOMEM, EACCES on the output): a passing fault (fault-kind.ts).
 */
export class ToolPassingFault extends Error {
  constructor(
    message: string,
    /** The system error behind it, when known (ENOSPC: the store's disk is full). */
    readonly errno: string | null,
    readonly stderrTail = '',
  ) {
    super(message);
    this.name = 'ToolPassingFault';
  }
}

/** ffprobe ran past its time limit and was killed: the file may be fine, the machine busy. */
export class ProbeTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`ffprobe ran longer than ${timeoutMs} ms and was killed`);
    this.name = 'ProbeTimedOut';
  }
}

/** ffmpeg ran past its time limit and was killed. */
export class FfmpegTimedOut extends Error {
  constructor(readonly timeoutMs: number) {
    super(`ffmpeg ran longer than ${timeoutMs} ms and was killed`);
    this.name = 'FfmpegTimedOut';
  }
}

export interface RenderLimits {
  timeoutMs: number;
  /** Seconds of output written so far, from ffmpeg's own stats lines (about every 0.5 s, and at its end). */
  onProgress?: (seconds: number) => void;
}

export interface MediaTools {
  readonly ffmpegPath: string;
  probe(file: string): Promise<AudioProbe>;
  /**
   * Runs ffmpeg into a file, or into a stream (its stdout piped: the output options must name a format).
   * Resolves once ffmpeg ended well and, for a stream, every byte was written and the stream finished.
   * A stream's own write error (ENOSPC) rejects as itself, and stops ffmpeg. `stdin` is the input named
   * STDIN_URL, piped in; its read error (an origin fault) rejects as itself too, and stops ffmpeg; it is
   * destroyed when ffmpeg ends, read whole or not.
   */
  render(output: string | Writable, args: FfmpegArguments, limits: RenderLimits, stdin?: Readable): Promise<void>;
  /**
   * Decodes the file's first audio stream into `sink` as interleaved signed 16-bit little-endian PCM with
   * `channels` channels (the source's), at the source's rate, gapless (without the LAME tag's delay and
   * padding), streamed: the sink's pace holds ffmpeg back, so no more than a pipe's worth is in memory.
   */
  decodePcm(file: string, channels: number, sink: Writable, limits: RenderLimits, openOptions?: string[]): Promise<void>;
}

/**
 * Pure: the arguments of a decode to PCM (peaks). `-ac` only states the channels the caller counts on (the
 * source's: no mix); float samples become 16-bit by swresample's rounding, without dither (its default).
 * `-flush_packets 0`: writes of ffmpeg's 32 KB I/O buffer instead of one per MP3 frame (4.6 KB), so the reader
 * handles 20,000 chunks for an hour instead of 130,000 (measured: 5.6 s → 3.1 s, beside 2.8 s to /dev/null).
 */
export function pcmDecodeArguments(file: string, channels: number, openOptions: string[] = []): FfmpegArguments {
  return {
    inputs: [{ url: file, options: ['-nostdin', '-hide_banner', ...openOptions] }],
    outputOptions: ['-map', '0:a:0', '-ac', String(channels), '-c:a', 'pcm_s16le', '-flush_packets', '0', '-f', 's16le'],
  };
}

/**
 * Pure: the input options that let ffmpeg read a source on the HTTP origin (an exact render) with the
 * operator's static headers. ffmpeg's http protocol seeks by Range requests when the origin answers
 * Accept-Ranges; `-rw_timeout` (µs) fails a stalled read instead of waiting for RENDER_TIMEOUT_MS; no
 * reconnect options, so ffmpeg follows nothing on its own (its http protocol does follow redirects: the
 * worker's own HEAD just before refused any, and the URL is the pinned one).
 */
export function httpInputOptions(headers: Readonly<Record<string, string>>, timeoutMs: number): string[] {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return [...(lines.length > 0 ? ['-headers', lines.join('')] : []), '-rw_timeout', String(timeoutMs * 1000)];
}

const STDERR_TAIL_LINES = 12;
const DEFAULT_PROBE_TIMEOUT_MS = 10_000;
/** ffprobe's JSON for one file is a few KB; more means something is wrong. */
const PROBE_OUTPUT_MAX_BYTES = 1024 * 1024;

interface FfprobeJson {
  format?: { format_name?: string; duration?: string; bit_rate?: string };
  streams?: Array<{
    codec_type?: string;
    codec_name?: string;
    sample_rate?: string;
    channels?: number;
    duration?: string;
    bit_rate?: string;
  }>;
}

function runProbe(ffprobePath: string, file: string, timeoutMs: number): Promise<AudioProbe> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-i', file];
  return new Promise((resolve, reject) => {
    execFile(
      ffprobePath,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: PROBE_OUTPUT_MAX_BYTES },
      (error, stdout, stderr) => {
        const overflowed = error?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';
        if (error?.killed && !overflowed) return reject(new ProbeTimedOut(timeoutMs));
        if (error && !overflowed) {
          // execFile's error: a string code when ffprobe never ran (spawn failed), its exit code when it did.
          const exit: ToolExit = {
            spawnError: typeof error.code === 'string' ? error.code : null,
            signal: error.signal ?? null,
            code: typeof error.code === 'number' ? error.code : null,
            stderr: String(stderr).slice(-2000),
            userText: userTextOf([file]),
          };
          const fault = classifyExit(exit);
          if (fault.kind === 'passing')
            return reject(new ToolPassingFault(`ffprobe did not finish: ${error.message.split('\n')[0]}`, fault.errno, exit.stderr));
        }
        if (error) return reject(new FfmpegFailed('ffprobe could not read the file', String(stderr || error.message).slice(-2000)));
        let data: FfprobeJson;
        try {
          data = JSON.parse(stdout) as FfprobeJson;
        } catch {
          return reject(new FfmpegFailed('ffprobe wrote no JSON', stdout.slice(-2000)));
        }
        const audio = data.streams?.find((stream) => stream.codec_type === 'audio');
        if (!audio) return reject(new FfmpegFailed('no audio stream', ''));
        resolve({
          formatName: String(data.format?.format_name ?? ''),
          codecName: String(audio.codec_name ?? ''),
          durationSeconds: Number(data.format?.duration ?? audio.duration),
          sampleRate: Number(audio.sample_rate),
          channels: Number(audio.channels),
          bitRate: Number(audio.bit_rate ?? data.format?.bit_rate),
        });
      },
    );
  });
}

/**
 * How fluent-ffmpeg says ffmpeg ended, as facts: a spawn failure is Node's own error (its errno code); an
 * end is its message's fixed start, "ffmpeg was killed with signal X" or "ffmpeg exited with code N" (what
 * follows that is stderr, never read as facts).
 */
function exitOf(error: Error & { code?: unknown }, stderr: string, urls: string[]): ToolExit {
  const signal = /^ffmpeg was killed with signal (\w+)/.exec(error.message)?.[1] ?? null;
  const code = /^ffmpeg exited with code (\d+)/.exec(error.message)?.[1];
  const spawnError = typeof error.code === 'string' ? error.code : null;
  return { spawnError, signal, code: code === undefined ? null : Number(code), stderr, userText: userTextOf(urls) };
}

/** An ffmpeg/ffprobe this user cannot run (a bundled one root-owned after `sudo npm ci`, a wrong path set): a setup fault. */
export class ToolNotExecutable extends Error {
  constructor(file: string, variable: 'FFMPEG_PATH' | 'FFPROBE_PATH', reason: string) {
    super(`${file} cannot be run by this user (${reason}): run \`sudo chmod 755 ${file}\`, or set ${variable} to one it can run`);
    this.name = 'ToolNotExecutable';
  }
}

/**
 * Checked at start, so a tool that cannot run stops the process with one line instead of failing every
 * render. A bundled binary may be made executable here: npm 11 may skip the installer packages' postinstall
 * (`chmod u+x`). A configured one (`FFMPEG_PATH`, `FFPROBE_PATH`) is the operator's file, never changed.
 */
export async function ensureExecutable(
  file: string,
  variable: 'FFMPEG_PATH' | 'FFPROBE_PATH',
  options: { bundled: boolean },
): Promise<void> {
  const cannotRun = (error: NodeJS.ErrnoException) => new ToolNotExecutable(file, variable, error.code ?? error.message);
  try {
    await access(file, constants.X_OK);
  } catch (error) {
    if (!options.bundled) throw cannotRun(error as NodeJS.ErrnoException);
    await chmod(file, 0o755).catch((chmodError: NodeJS.ErrnoException) => {
      throw cannotRun(chmodError);
    });
  }
}

/** For process entries (API, worker): the tools, or the one line of a ToolNotExecutable and exit 78, as loadConfigOrExit. */
export async function createMediaToolsOrExit(paths: Parameters<typeof createMediaTools>[0]): Promise<MediaTools> {
  try {
    return await createMediaTools(paths);
  } catch (error) {
    if (error instanceof ToolNotExecutable) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

export async function createMediaTools(
  paths: { ffmpegPath?: string; ffprobePath?: string; probeTimeoutMs?: number } = {},
): Promise<MediaTools> {
  const ffmpegPath = paths.ffmpegPath ?? ffmpegInstaller.path;
  const ffprobePath = paths.ffprobePath ?? ffprobeInstaller.path;
  await ensureExecutable(ffmpegPath, 'FFMPEG_PATH', { bundled: !paths.ffmpegPath });
  await ensureExecutable(ffprobePath, 'FFPROBE_PATH', { bundled: !paths.ffprobePath });
  ffmpeg.setFfmpegPath(ffmpegPath);

  const tools: MediaTools = {
    ffmpegPath,
    probe: (file) => runProbe(ffprobePath, file, paths.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS),
    decodePcm: (file, channels, sink, limits, openOptions) => tools.render(sink, pcmDecodeArguments(file, channels, openOptions), limits),

    render: (output, args, limits, stdin) =>
      new Promise((resolve, reject) => {
        const stderr: string[] = [];
        let timedOut = false;
        const command = ffmpeg({ stdoutLines: 0 });
        // Spread, not an array: fluent-ffmpeg splits an array's element with one space in two ('-headers'
        // values such as 'Host: origin' would be torn apart); given as separate arguments it takes them whole.
        for (const input of args.inputs) {
          if (input.url === STDIN_URL && !stdin) throw new Error('an ffmpeg input reads stdin, but no stream was given');
          command.input(input.url === STDIN_URL && stdin ? stdin : input.url);
          if (input.options.length > 0) command.inputOptions(...(input.options as [string, ...string[]]));
        }
        // fluent-ffmpeg kills ffmpeg 20 ms after its output stream closes, and under load that can come
        // before ffmpeg's exit is seen: it is given a stream that never emits 'close'.
        const tap = typeof output === 'string' ? null : new PassThrough({ emitClose: false });
        const written = tap ? pipeline(tap, output as Writable) : Promise.resolve();
        written.catch(() => undefined); // read on 'end' or 'error'
        command.output(tap ?? (output as string)).outputOptions(args.outputOptions);
        const timer = setTimeout(() => {
          timedOut = true;
          command.kill('SIGKILL');
        }, limits.timeoutMs);
        const settle = () => {
          clearTimeout(timer);
          // Whatever ffmpeg left unread is not read (closes the source's reader).
          stdin?.destroy();
        };
        command
          // fluent-ffmpeg spawns ffmpeg a few event-loop turns after run(): a kill asked before then found no process.
          .on('start', () => {
            if (timedOut) command.kill('SIGKILL');
          })
          .on('stderr', (line: string) => {
            stderr.push(line);
            if (stderr.length > STDERR_TAIL_LINES) stderr.shift();
            // Not fluent-ffmpeg's 'progress' event: listening to it makes fluent-ffmpeg ffprobe the input first.
            const seconds = limits.onProgress ? progressSeconds(line) : null;
            if (seconds !== null) limits.onProgress?.(seconds);
          })
          .on('error', (error: Error & { inputStreamError?: Error; outputStreamError?: Error }) => {
            settle();
            if (timedOut) reject(new FfmpegTimedOut(limits.timeoutMs));
            else if (error.inputStreamError) {
              // fluent-ffmpeg's own stop is a SIGTERM, which an ffmpeg blocked reading its stdin never acts on.
              command.kill('SIGKILL');
              reject(error.inputStreamError);
            } else if (error.outputStreamError) reject(error.outputStreamError);
            else {
              const exit = exitOf(error, stderr.join('\n'), [
                ...args.inputs.map((input) => input.url),
                typeof output === 'string' ? output : '',
              ]);
              const fault = classifyExit(exit);
              const firstLine = error.message.split('\n')[0];
              if (fault.kind === 'permanent') reject(new FfmpegFailed(`ffmpeg failed: ${firstLine}`, exit.stderr));
              else reject(new ToolPassingFault(`ffmpeg did not finish: ${firstLine}`, fault.errno, exit.stderr));
            }
          })
          .on('end', () => {
            settle();
            written.then(resolve, reject);
          })
          .run();
      }),
  };
  return tools;
}
