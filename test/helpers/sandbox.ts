import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI: end-to-end tests run what users run (`npm test` builds it first). */
export const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (npx tsc -p tsconfig.build.json)`);

/**
 * A temp folder holding the test's database and a HOME of its own, so nothing a test starts can
 * reach ~/.dispersl. `env` is the whole environment of a process: nothing leaks in from the runner.
 */
export interface Sandbox {
  dir: string;
  db: string;
  env(extra?: Record<string, string | undefined>): Record<string, string>;
  remove(): void;
}

export function sandbox(dbName = 'dispersl.db'): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'dispersl-e2e-'));
  const db = join(dir, dbName);
  return {
    dir,
    db,
    env(extra = {}) {
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: join(dir, 'home'), DISPERSL_DB: db, DISPERSL_LOG_LEVEL: 'info' };
      for (const [name, value] of Object.entries(extra)) {
        if (value === undefined) delete env[name];
        else env[name] = value;
      }
      return env;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end (killed after timeoutMs), with stdin closed at once unless input is given. */
export function runCli(args: string[], env: Record<string, string>, input = '', timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

export interface Initialized {
  secret: string;
  keyId: string;
  orgId: string;
  output: string;
}

/** `dispersl-mcp init` in the sandbox; the admin key is read from what it prints. */
export async function init(box: Sandbox, flags: string[] = []): Promise<Initialized> {
  const run = await runCli(['init', ...flags], box.env());
  if (run.code !== 0) throw new Error(`init ${flags.join(' ')} failed with ${run.code}: ${run.stderr}`);
  const secret = /^ {2}(pk_live_[0-9A-Za-z]+)$/m.exec(run.stdout)?.[1];
  const keyId = /Admin key (key_[0-9A-Za-z]+)/.exec(run.stdout)?.[1];
  const orgId = /\((org_[0-9A-Za-z]+), plan/.exec(run.stdout)?.[1];
  if (!secret || !keyId || !orgId) throw new Error(`init printed no key:\n${run.stdout}`);
  return { secret, keyId, orgId, output: run.stdout };
}

/**
 * Hourly windows are aligned to the clock: a test that counts one window's requests first waits
 * out the last seconds of an hour (at most `marginMs`) instead of straddling two windows.
 */
export async function awayFromHourEdge(marginMs = 30_000): Promise<void> {
  const left = 3_600_000 - (Date.now() % 3_600_000);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 250));
}
