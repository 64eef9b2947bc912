// Owns finding the system programs the stack needs (Redis, nginx) and installing them from the
// distribution's packages when they are missing: as root with apt-get; otherwise it stops with the
// exact command to run.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin'];

/** Debian package that provides each program. */
const PACKAGES: Record<string, string> = { 'redis-server': 'redis-server', nginx: 'nginx' };

export function findProgram(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...EXTRA_DIRS].filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export class MissingProgram extends Error {}

/** Returns the path of each program, installing the missing ones first where this process may. */
export function ensurePrograms(names: string[], log: (line: string) => void): Record<string, string> {
  const missing = names.filter((name) => !findProgram(name));
  if (missing.length > 0) {
    const packages = missing.map((name) => PACKAGES[name] ?? name);
    const command = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
    const canInstall = process.getuid?.() === 0 && findProgram('apt-get') !== null;
    if (!canInstall) {
      throw new MissingProgram(`Missing ${missing.join(', ')}. Install with: sudo sh -c '${command}'`);
    }
    log(`installing ${packages.join(', ')} from the distribution's packages`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [
      ['update', '-qq'],
      ['install', '-y', '-qq', '--no-install-recommends', ...packages],
    ]) {
      const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
      if (result.status !== 0) throw new MissingProgram(`apt-get ${args[0]} failed; run: ${command}`);
    }
  }
  return Object.fromEntries(
    names.map((name) => {
      const found = findProgram(name);
      if (!found) throw new MissingProgram(`${name} is still missing after installing it`);
      return [name, found];
    }),
  );
}
