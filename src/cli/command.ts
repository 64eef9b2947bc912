// Owns what a command of the `segments` CLI is: a name, a one-line summary, its --help text and a run
// function; a CliError is what a command throws to end with a message and an exit code (never a stack trace).
import type { Config } from '../config.js';

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
  /** The environment's configuration, parsed when a command asks for it (a bad value is a CliError). */
  config(): Config;
  print(line: string): void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[], context: CommandContext): void | Promise<void>;
}
