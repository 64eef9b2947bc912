// Owns how a command reads its arguments: node:util parseArgs (strict: an unknown flag or a missing value is
// a usage error: one line pointing at --help, exit 64), then a check of how many positionals it takes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, EXIT } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function readArgs<const O extends Options>(
  args: string[],
  spec: { name: string; options: O; positionals: [min: number, max: number] },
) {
  const run = () => parseArgs({ args, options: spec.options, allowPositionals: true, strict: true });
  let parsed: ReturnType<typeof run>;
  try {
    parsed = run();
  } catch (error) {
    // parseArgs' messages name the flag ("Unknown option '--speed'. ..."); the first sentence is enough.
    throw new CliError(
      `${spec.name}: ${(error as Error).message.split('. ')[0]!.replace(/\.$/, '')}; see 'segments ${spec.name} --help'.`,
      EXIT.usage,
    );
  }
  const [min, max] = spec.positionals;
  const count = parsed.positionals.length;
  if (count < min || count > max) {
    const wanted = min === max ? `${min}` : `${min} to ${max}`;
    throw new CliError(`${spec.name} takes ${wanted} argument(s), got ${count}; see 'segments ${spec.name} --help'.`, EXIT.usage);
  }
  return parsed;
}
