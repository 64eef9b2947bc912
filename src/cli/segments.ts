#!/usr/bin/env node
// The `segments` command line: dispatches to one file per command under commands/, prints --help, and turns
// every failure into one line on stderr and an exit code (64: usage, 2: the input, 78: configuration).
import { ConfigError, parseConfig, type Config } from '../config.js';
import { CliError, type Command } from './command.js';
import { signCommand } from './commands/sign.js';

const COMMANDS: Command[] = [signCommand];

const USAGE = `Usage: segments <command> [arguments]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(8)} ${command.summary}`).join('\n')}

Run 'segments <command> --help' for a command's own help.`;

function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, 78);
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 64 : 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) throw new CliError(`unknown command '${name}'.\n\n${USAGE}`, 64);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  await command.run(args, { config: loadConfig, print: (line) => process.stdout.write(`${line}\n`) });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof CliError) {
      process.stderr.write(`segments: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`segments: unexpected failure: ${(error as Error).message}\n`);
    process.exit(70);
  },
);
