#!/usr/bin/env node
// The `segments` command line: dispatches to one file per command under commands/, prints --help, and turns
// every failure into one line on stderr and an exit code (EXIT in command.ts: 64 usage, 2 the input, 69 the
// service unreachable or busy, 78 configuration, 70 unexpected, 1 some items of a batch failed).
import { ConfigError, parseConfig, type Config } from '../config.js';
import { CliError, EXIT, type Command } from './command.js';
import { nginxConfigCommand } from './commands/nginx-config.js';
import { probeCommand } from './commands/probe.js';
import { purgeCommand } from './commands/purge.js';
import { renderCommand } from './commands/render.js';
import { signCommand } from './commands/sign.js';
import { warmCommand } from './commands/warm.js';

const COMMANDS: Command[] = [renderCommand, warmCommand, purgeCommand, probeCommand, signCommand, nginxConfigCommand];

const USAGE = `Usage: segments <command> [arguments]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(13)} ${command.summary}`).join('\n')}

Run 'segments <command> --help' for a command's own help.`;

function loadConfig(overrides: Record<string, string> = {}): Config {
  try {
    return parseConfig({ ...process.env, ...overrides });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT.config);
    throw error;
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? EXIT.usage : 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) throw new CliError(`unknown command '${name}'.\n\n${USAGE}`, EXIT.usage);
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
    process.exit(EXIT.unexpected);
  },
);
