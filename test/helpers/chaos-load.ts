// Owns the chaos test's steady load and its tally: client loops asking the front for hits, Range slices of
// hits and fresh misses; every answer is classified (right bytes, 503 with Retry-After, another 5xx, no
// answer) and every body is checked against what its URL must hold, per fault phase.
import { formatSeconds } from '../../src/segments/seconds.js';
import { readMp3 } from './mp3-frames.js';

/** One URL to ask, with what its answer must be. */
export interface LoadTarget {
  path: string;
  /** The bytes this URL answered before any fault (a hit); absent for a fresh miss. */
  reference?: Buffer;
  /** A miss's asked length: its body must be a whole MP3 of that length. */
  seconds?: number;
  /** A Range request on a hit: the answer must be reference.subarray(from, to). */
  range?: { header: string; from: number; to?: number };
}

export type AnswerKind =
  | 'right' // 200/206 with the right bytes
  | 'wrong' // 200/206 with other bytes (a short, damaged or different body)
  | 'retry-later' // 503 with Retry-After: the announced way to say "not now"
  | 'bad-5xx' // any other 5xx from the service
  | 'front-5xx' // nginx's own error page (HTML): the API did not answer
  | 'hung' // no whole answer within the bound
  | 'no-connection' // refused, reset or cut: nothing listened, or the answering process died
  | 'unexpected'; // anything else (a 308 or a 4xx means the test asks wrongly)

export interface Answer {
  kind: AnswerKind;
  status: number;
  endedAt: number;
}

export interface PhaseCounts {
  requests: number;
  kinds: Record<AnswerKind, number>;
  /** URL and reason of each answer that is not fine, for failure messages. */
  examples: Partial<Record<AnswerKind, string[]>>;
  longestMs: number;
}

const FINE: AnswerKind[] = ['right', 'retry-later'];
/** How many seconds of a segment a fresh miss asks for. */
const MISS_SECONDS = 1.5;
/** The demo sources (fixtures/media/demo) and their lengths in seconds. */
const SOURCES: [string, number][] = [
  ['demo/chirp', 30],
  ['demo/talk', 60],
  ['demo/tones', 90],
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function emptyCounts(): PhaseCounts {
  const kinds = Object.fromEntries(
    (['right', 'wrong', 'retry-later', 'bad-5xx', 'front-5xx', 'hung', 'no-connection', 'unexpected'] as const).map((k) => [k, 0]),
  ) as Record<AnswerKind, number>;
  return { requests: 0, kinds, examples: {}, longestMs: 0 };
}

export interface ChaosLoad {
  /** Answers from now on are counted under this name. */
  phase(name: string): void;
  readonly phases: ReadonlyMap<string, PhaseCounts>;
  ask(target: LoadTarget): Promise<Answer>;
  /** A segment never asked before (distinct start time), in copy and exact modes by turns: a new render. */
  freshMiss(): LoadTarget;
  /** Starts the client loops; `stop` ends them after their current request. */
  run(loops: { hits: LoadTarget[]; hitLoops: number; missLoops: number }): { stop(): Promise<void> };
}

/** `baseUrl`: the front. `answerWithinMs`: an answer later than this counts as hung (the request is aborted). */
export function createChaosLoad(options: { baseUrl: string; answerWithinMs: number }): ChaosLoad {
  const phases = new Map<string, PhaseCounts>();
  let current = emptyCounts();
  /** The first body each miss URL answered: a repeated URL must give the same bytes. */
  const firstBodies = new Map<string, Buffer>();
  let misses = 0;

  /** What a 200/206 body should have been; null when it is right. */
  function wrongness(target: LoadTarget, response: Response, body: Buffer): string | null {
    const stated = Number(response.headers.get('content-length'));
    if (stated !== body.length) return `Content-Length ${stated}, body ${body.length} bytes`;
    if (target.reference) {
      const expected =
        response.status === 206 && target.range ? target.reference.subarray(target.range.from, target.range.to) : target.reference;
      return body.equals(expected)
        ? null
        : `${body.length} bytes that differ from the ${expected.length} bytes it answered before the faults`;
    }
    const first = firstBodies.get(target.path);
    if (first) return body.equals(first) ? null : `${body.length} bytes that differ from its first answer (${first.length} bytes)`;
    try {
      const mp3 = readMp3(body);
      const tolerance = (2 * mp3.samplesPerFrame) / mp3.sampleRate;
      if (Math.abs(mp3.durationSeconds - (target.seconds ?? NaN)) > tolerance)
        return `an MP3 of ${mp3.durationSeconds.toFixed(3)} s, asked ${target.seconds} s`;
    } catch (error) {
      return `not a whole MP3: ${(error as Error).message}`;
    }
    firstBodies.set(target.path, body);
    return null;
  }

  async function classify(target: LoadTarget, response: Response, body: Buffer): Promise<[AnswerKind, string]> {
    const { status } = response;
    if (status === 200 || status === 206) {
      const wrong = wrongness(target, response, body);
      return wrong === null ? ['right', ''] : ['wrong', wrong];
    }
    const said = `${status} ${response.headers.get('content-type') ?? ''}: ${body.toString('utf8', 0, 120).replace(/\s+/g, ' ')}`;
    if (status === 503 && response.headers.get('retry-after')) return ['retry-later', ''];
    if (status >= 500) return [/^text\/html/.test(response.headers.get('content-type') ?? '') ? 'front-5xx' : 'bad-5xx', said];
    return ['unexpected', said];
  }

  async function ask(target: LoadTarget): Promise<Answer> {
    const counts = current;
    const startedAt = performance.now();
    let kind: AnswerKind;
    let status = 0;
    let reason = '';
    try {
      const response = await fetch(options.baseUrl + target.path, {
        redirect: 'manual',
        headers: target.range ? { range: target.range.header } : {},
        signal: AbortSignal.timeout(options.answerWithinMs),
      });
      status = response.status;
      [kind, reason] = await classify(target, response, Buffer.from(await response.arrayBuffer()));
    } catch (error) {
      const name = (error as Error).name;
      kind = name === 'TimeoutError' || name === 'AbortError' ? 'hung' : 'no-connection';
      reason = kind === 'hung' ? `no whole answer within ${options.answerWithinMs} ms` : String((error as Error).cause ?? error);
    }
    const endedAt = performance.now();
    counts.requests += 1;
    counts.kinds[kind] += 1;
    counts.longestMs = Math.max(counts.longestMs, endedAt - startedAt);
    if (!FINE.includes(kind)) {
      const examples = counts.examples[kind] ?? [];
      examples.push(`${target.path}${target.range ? ` (${target.range.header})` : ''}: ${reason}`);
      counts.examples[kind] = examples;
    }
    return { kind, status, endedAt };
  }

  function freshMiss(): LoadTarget {
    const n = misses++;
    const [source] = SOURCES[n % SOURCES.length]!;
    const exact = Math.floor(n / SOURCES.length) % 2 === 1;
    // 1 ms apart within each source and mode: a distinct segment each, for 27,500 misses of each kind.
    const startMs = 500 + Math.floor(n / (2 * SOURCES.length));
    const endMs = startMs + MISS_SECONDS * 1000;
    return {
      path: `/segments/${source}/${formatSeconds(startMs)}-${formatSeconds(endMs)}.mp3${exact ? '?mode=exact' : ''}`,
      seconds: MISS_SECONDS,
    };
  }

  return {
    phase(name) {
      current = phases.get(name) ?? emptyCounts();
      phases.set(name, current);
    },
    phases,
    ask,
    freshMiss,
    run({ hits, hitLoops, missLoops }) {
      let stopped = false;
      // A pause between requests keeps the load steady rather than as fast as a refused connection fails.
      const loop = async (next: () => LoadTarget, pauseMs: number) => {
        while (!stopped) {
          await ask(next());
          await sleep(pauseMs);
        }
      };
      let asked = 0;
      const nextHit = () => hits[asked++ % hits.length]!;
      const running = [
        ...Array.from({ length: hitLoops }, () => loop(nextHit, 40)),
        ...Array.from({ length: missLoops }, () => loop(freshMiss, 20)),
      ];
      return {
        async stop() {
          stopped = true;
          await Promise.all(running);
        },
      };
    },
  };
}
