// Programs the tests need from the distribution's packages: found, or installed (as root), or the test
// fails with the exact command to run. A test never skips because a tool is missing.
import { spawnSync } from 'node:child_process';
import { findProgram } from '../../src/stack/system-tools.js';

export function requireProgram(program: string, debianPackage: string): string {
  const found = findProgram(program);
  if (found) return found;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${debianPackage}`;
  if (process.getuid?.() !== 0) throw new Error(`${program} is missing; install it: sudo sh -c '${command}'`);
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', debianPackage],
  ]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) throw new Error(`could not install ${debianPackage}; run: ${command}`);
  }
  const installed = findProgram(program);
  if (!installed) throw new Error(`${program} is still missing after installing ${debianPackage}`);
  return installed;
}
