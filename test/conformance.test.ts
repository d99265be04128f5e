import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { node22 } from './helpers/node22.js';
import { type Served, serve } from './helpers/http-serve.js';
import { type Sandbox, init, sandbox } from './helpers/sandbox.js';

/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in package.json)
 * against a real `serve`, once per protocol revision, each run with its committed expected-failures
 * baseline. The suite exits non-zero on a failure the baseline does not list, and on a listed one
 * that now passes (a stale baseline), so both directions are caught.
 */

const SUITE = fileURLToPath(new URL('../node_modules/@modelcontextprotocol/conformance/dist/index.js', import.meta.url));
const baseline = (revision: string) => fileURLToPath(new URL(`./conformance/expected-failures-${revision}.yml`, import.meta.url));

let box: Sandbox;
let served: Served;
let key: string;
let node: string;
let out: string;

beforeAll(async () => {
  node = node22();
  box = sandbox();
  out = mkdtempSync(join(tmpdir(), 'dispersl-conformance-'));
  // Enterprise limits: the suite makes far more calls than a free key's hourly quota.
  key = (await init(box, ['--plan', 'enterprise'])).secret;
  served = await serve(box);
}, 240_000);

afterAll(async () => {
  await served?.stop();
  box?.remove();
  if (out) rmSync(out, { recursive: true, force: true });
});

function runSuite(revision: string, url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const args = [SUITE, 'server', '--url', url, '--requirements', revision, '--expected-failures', baseline(revision), '-o', join(out, revision)];
    const child = spawn(node, args, { cwd: out, env: { PATH: process.env.PATH ?? '', HOME: box.dir, NO_COLOR: '1' }, stdio: 'pipe' });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the MCP conformance suite', () => {
  for (const revision of ['2026-07-28', '2025-11-25']) {
    it(`passes every ${revision} requirement outside its baseline, on /ot/<key>`, async () => {
      const { code, output } = await runSuite(revision, `${served.url}/ot/${key}`);
      const summary = output.slice(output.lastIndexOf('=== SUMMARY ==='));
      expect(code, summary).toBe(0);
      expect(output).toMatch(/Baseline check passed/);
      // The server never answered the suite with a 5xx.
      expect(served.stderr()).not.toMatch(/"status":5\d\d/);
    }, 120_000);
  }
});
