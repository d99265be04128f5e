import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A Node 22 binary for tools that need it (the MCP conformance suite imports `globSync` from
 * node:fs, which Node 20 lacks). It comes from the npm registry's `node` package, installed once
 * into node_modules/.cache and reused; the project itself still runs on the Node that runs the tests.
 */
export const NODE22_VERSION = '22.23.3';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = join(ROOT, 'node_modules', '.cache', `dispersl-node-${NODE22_VERSION}`);

export function node22(): string {
  const bin = join(CACHE, 'node_modules', 'node', 'bin', 'node');
  if (existsSync(bin)) return bin;
  // Installed beside the cache folder, then moved into place: a run that dies half-way leaves no broken cache.
  const staging = `${CACHE}.${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const run = spawnSync(npm, ['install', '--prefix', staging, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node@${NODE22_VERSION}`], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (run.status !== 0) throw new Error(`npm install node@${NODE22_VERSION} failed (${run.status}): ${run.stderr}`);
  if (!existsSync(join(staging, 'node_modules', 'node', 'bin', 'node'))) throw new Error(`node@${NODE22_VERSION} installed no binary: ${run.stdout}${run.stderr}`);
  try {
    renameSync(staging, CACHE);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another run put it there first
  }
  return bin;
}
