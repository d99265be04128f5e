import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { init, runCli } from './helpers/sandbox.js';
import { useWorkspace } from './helpers/workspace.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const ws = useWorkspace();

/** The JSON blocks of init's output: each starts with a line `{` and ends with a line `}`. */
function jsonBlocks(output: string): Array<Record<string, unknown>> {
  const blocks: Array<Record<string, unknown>> = [];
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    if (line === '{') current = [];
    if (current) current.push(line);
    if (line === '}' && current) {
      blocks.push(JSON.parse(current.join('\n')) as Record<string, unknown>);
      current = undefined;
    }
  }
  return blocks;
}

describe('dispersl-mcp --help and --version', () => {
  it('prints help on stdout and exits 0, for every command', async () => {
    for (const args of [['--help'], ['-h'], ['init', '--help'], ['serve', '--help'], ['stdio', '--help']]) {
      const run = await runCli(args, ws.box.env());
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toContain('Usage:');
      for (const word of ['init', 'serve', '--read-only', 'DISPERSL_API_KEY', 'DISPERSL_DB']) expect(run.stdout).toContain(word);
      expect(run.stderr).toBe('');
    }
    expect(existsSync(ws.box.db)).toBe(false);
  });

  it('prints the package version and exits 0', async () => {
    for (const args of [['--version'], ['-v'], ['init', '--version']]) {
      const run = await runCli(args, ws.box.env());
      expect(run).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
  });
});

describe('dispersl-mcp: a wrong flag or value', () => {
  const wrong: Array<[string[], Record<string, string>?]> = [
    [['--bogus']],
    [['frobnicate']],
    [['init', 'extra']],
    [['init', '--org']],
    [['init', '--plan', 'gold']],
    [['init', '--plan', 'enterprise', '--requests-per-hour', 'lots']],
    [['init', '--plan', 'enterprise', '--requests-per-hour', '0']],
    [['init', '--plan', 'enterprise', '--max-concurrency', '-3']],
    [['init', '--org', '   ']],
    [['init', '--read-only']],
    [['init', '--client', 'emacs']],
    [['init', '--client', 'cursor,']],
    [['serve', '--client', 'cursor']],
    [['stdio', '--port', '8080']],
    [['serve', '--port', '70000']],
    [['serve', '--port', 'http']],
    [['serve', '--host']],
    [[], { DISPERSL_LOG_LEVEL: 'loud' }],
  ];
  for (const [args, env] of wrong) {
    it(`answers '${args.join(' ')}'${env ? ` with ${JSON.stringify(env)}` : ''} with one line on stderr and exit code 2`, async () => {
      const run = await runCli(args, ws.box.env(env));
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^dispersl-mcp: [^\n]+\n$/);
      expect(existsSync(ws.box.db)).toBe(false);
    });
  }
});

describe('dispersl-mcp init', () => {
  it('creates the database owner-only and prints the admin key with Windsurf and Cursor config', async () => {
    const db = join(ws.box.dir, 'fresh', 'keys.db');
    const run = await runCli(['init', '--org', 'Acme'], ws.box.env({ DISPERSL_DB: db }));
    expect(run.code, run.stderr).toBe(0);
    const secret = /^ {2}(pk_live_[0-9A-Za-z]{38})$/m.exec(run.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(run.stdout).toMatch(/shown once/);
    expect(run.stdout).toContain('Acme');
    expect(run.stderr).not.toContain(secret!);
    expect(statSync(join(ws.box.dir, 'fresh')).mode & 0o777).toBe(0o700);
    expect(statSync(db).mode & 0o777).toBe(0o600);

    const [windsurf, cursorHeader, cursorUrl] = jsonBlocks(run.stdout);
    expect(windsurf).toEqual({ mcpServers: { dispersl: { command: 'npx', args: ['-y', 'dispersl-mcp'], env: { DISPERSL_API_KEY: secret, DISPERSL_DB: db } } } });
    expect(cursorHeader).toEqual({ mcpServers: { dispersl: { url: 'http://127.0.0.1:8787/mcp', headers: { Authorization: `Bearer ${secret}` } } } });
    expect(cursorUrl).toEqual({ mcpServers: { dispersl: { url: `http://127.0.0.1:8787/ot/${secret}` } } });

    const s = await ws.connect({ key: secret, env: { DISPERSL_DB: db } });
    expect(await s.ok('whoami')).toMatchObject({
      organization: { name: 'Acme', plan: 'free' },
      key: { name: 'Admin key', environment: 'live', permissions: ['admin'] },
      limits: { hourly: { limit: 100 }, concurrency: { limit: 2 } },
    });
  });

  it('prints only the chosen clients\' configs with --client', async () => {
    const run = await runCli(['init', '--client', 'codex,vscode'], ws.box.env());
    expect(run.code, run.stderr).toBe(0);
    const secret = /^ {2}(pk_live_[0-9A-Za-z]{38})$/m.exec(run.stdout)?.[1];
    expect(secret).toBeDefined();
    expect(run.stdout).toContain('[mcp_servers.dispersl]\nurl = "http://127.0.0.1:8787/mcp"\nbearer_token_env_var = "DISPERSL_API_KEY"');
    expect(jsonBlocks(run.stdout).map((block) => Object.keys(block))).toEqual([['inputs', 'servers'], ['inputs', 'servers']]);
    expect(run.stdout).not.toContain('mcpServers');
  });

  it('adds another organization on an existing database, each seeing only its own keys', async () => {
    const first = await init(ws.box, ['--org', 'First']);
    const second = await init(ws.box, ['--org', 'Second', '--plan', 'pro']);
    expect(second.orgId).not.toBe(first.orgId);
    expect(second.output).not.toContain(first.secret);
    const a = await ws.connect({ key: first.secret });
    const b = await ws.connect({ key: second.secret });
    expect(await b.ok('whoami')).toMatchObject({ organization: { id: second.orgId, name: 'Second', plan: 'pro' }, limits: { hourly: { limit: 1_000 } } });
    expect(await a.ok('list_keys')).toMatchObject({ keys: [{ id: first.keyId }] });
    expect(await b.ok('list_keys')).toMatchObject({ keys: [{ id: second.keyId }] });
  });

  it('sets an enterprise organization’s custom limits', async () => {
    const admin = await init(ws.box, ['--plan', 'enterprise', '--requests-per-hour', '500', '--max-concurrency', '7']);
    const s = await ws.connect({ key: admin.secret });
    expect(await s.ok('whoami')).toMatchObject({
      organization: { plan: 'enterprise' },
      limits: { hourly: { limit: 500, remaining: 499 }, concurrency: { limit: 7 } },
    });
  });

  it('refuses custom limits for a plan that has none, creating nothing', async () => {
    await init(ws.box, ['--org', 'Existing']);
    for (const flags of [['--requests-per-hour', '500'], ['--plan', 'pro', '--max-concurrency', '5'], ['--plan', 'free', '--requests-per-hour', '5']]) {
      const run = await runCli(['init', ...flags], ws.box.env());
      expect(run.code, flags.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^dispersl-mcp: [^\n]*enterprise[^\n]*\n$/);
      expect(run.stdout).toBe('');
    }
    const again = await init(ws.box, ['--org', 'Next']);
    const s = await ws.connect({ key: again.secret });
    expect(await s.ok('whoami')).toMatchObject({ organization: { name: 'Next', plan: 'free' } });
  });
});
