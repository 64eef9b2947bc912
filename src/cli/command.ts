// Owns what a command of the `segments` CLI is: a name, a one-line summary, its --help text and a run
// function; a CliError is what a command throws to end with a message and an exit code (never a stack trace).
import type { Config } from '../config.js';
import { ServiceError } from '../errors.js';

/** Exit codes (sysexits.h where one fits), the same for every command; the README lists them. */
export const EXIT = {
  /** Some items of a batch (segments warm) failed; the others were done. */
  someFailed: 1,
  /** The input: a bad segment, source or list; the service answered 4xx. */
  input: 2,
  usage: 64,
  /** The service cannot be reached, or answered 5xx (busy, not ready). */
  unavailable: 69,
  unexpected: 70,
  config: 78,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface CommandContext {
  /**
   * The environment's configuration, parsed when a command asks for it (a bad value is a CliError, exit 78);
   * `overrides` stand in for variables (a flag given for one).
   */
  config(overrides?: Record<string, string>): Config;
  print(line: string): void;
}

/** Runs `work`, turning a domain error (BadRequest, SourceNotFound...: a ServiceError) into its public detail, exit 2 or 69. */
export async function asCliErrors<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof ServiceError) throw new CliError(error.detail, error.status >= 500 ? EXIT.unavailable : EXIT.input);
    throw error;
  }
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], context: CommandContext): void | Promise<void>;
}
