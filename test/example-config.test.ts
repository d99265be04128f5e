import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, type Served, type StdioServer, baseEnv, call, init, serve, stdio, tempHome } from './helpers/remote.js';

/**
 * mcp.example.json holds every supported way to connect. Each entry is used here exactly as a
 * client would use it, against a real `serve` on a temp database: URLs with the SDK's Streamable
 * HTTP client, commands with its stdio client (npx -y dispersl-mcp runs the package's bin, which
 * is dist/cli/main.js). Only the placeholders are filled in, as the client or the user would.
 */

interface Entry {
  url?: string;
  serverUrl?: string;
  headers?: Record<string, string>;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
}

const example = JSON.parse(readFileSync(join(ROOT, 'mcp.example.json'), 'utf8')) as { mcpServers: Record<string, Entry> };
const entries = Object.entries(example.mcpServers);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
const PLACEHOLDER_KEY = 'pk_live_YOUR_KEY';
const EXAMPLE_ORIGIN = 'http://127.0.0.1:8787';
const READ_TOOLS = ['list_keys', 'get_key', 'whoami', 'get_usage', 'list_events'];
const ALL_TOOLS = ['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events'];

const home = tempHome('example-config');
const dbPath = join(home.dir, 'server.db');
let admin: { secret: string; keyId: string };
let server: Served;
const closers: Array<() => Promise<void>> = [];

/** What the client (or the user pasting a key) does to the entry: placeholders become the real key and address. */
function fill(text: string): string {
  return text.replaceAll(PLACEHOLDER_KEY, admin.secret).replaceAll('${env:DISPERSL_API_KEY}', admin.secret).replaceAll(EXAMPLE_ORIGIN, server.origin);
}

/** The CLI arguments after the package name, for `npx -y dispersl-mcp …` and `cmd /c npx -y dispersl-mcp …`. */
function cliArgs(entry: Entry): string[] {
  const args = entry.command === 'cmd' ? entry.args!.slice(2) : entry.args!;
  expect(entry.command === 'cmd' ? entry.args!.slice(0, 2) : ['/c', 'npx'], 'Windows runs npx through cmd /c').toEqual(['/c', 'npx']);
  expect(args.slice(0, 2)).toEqual(['-y', pkg.name]);
  return args.slice(2);
}

beforeAll(async () => {
  admin = init(home.dir, dbPath);
  server = await serve(home.dir, dbPath);
}, 60_000);

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await server?.stop();
  home.remove();
});

describe('mcp.example.json', () => {
  it('covers every supported way to connect', () => {
    expect(entries.map(([name]) => name)).toEqual([
      'dispersl-cursor-url',
      'dispersl-cursor-header',
      'dispersl-cursor-readonly',
      'dispersl-windsurf-npx',
      'dispersl-windsurf-read-only',
      'dispersl-windsurf-remote',
      'dispersl-claude-desktop',
      'dispersl-windows',
      'dispersl-remote-mode',
    ]);
    for (const [name, entry] of entries) {
      const kinds = ['url', 'serverUrl', 'command'].filter((k) => k in entry);
      expect(kinds, name).toHaveLength(1);
    }
  });

  it('holds placeholders only, never a key', () => {
    const text = readFileSync(join(ROOT, 'mcp.example.json'), 'utf8');
    expect(text.match(/pk_(live|test)_[0-9A-Za-z_]+/g)?.every((k) => k === PLACEHOLDER_KEY)).toBe(true);
  });

  it('names only environment variables the CLI reads', () => {
    const config = readFileSync(join(ROOT, 'src/cli/config.ts'), 'utf8');
    const read = new Set([...config.matchAll(/env\.(DISPERSL_[A-Z_]+)/g)].map((m) => m[1]));
    for (const [name, entry] of entries) for (const variable of Object.keys(entry.env ?? {})) expect(read.has(variable), `${name}: ${variable}`).toBe(true);
  });

  it('starts every command entry with the package bin', () => {
    expect(Object.keys(pkg.bin)).toEqual([pkg.name]);
    for (const [, entry] of entries.filter(([, e]) => e.command !== undefined)) cliArgs(entry);
  });

  it.each(entries.filter(([, e]) => e.url !== undefined || e.serverUrl !== undefined))('%s reaches the MCP endpoint of serve', async (name, entry) => {
    const url = fill((entry.url ?? entry.serverUrl)!);
    const headers = Object.fromEntries(Object.entries(entry.headers ?? {}).map(([k, v]) => [k, fill(v)]));
    const client = new Client({ name: 'example-config', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
    closers.push(() => client.close());
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(name.includes('readonly') ? READ_TOOLS : ALL_TOOLS);
    const whoami = (await client.callTool({ name: 'whoami', arguments: {} })) as { isError?: boolean; structuredContent?: { key: { id: string } } };
    expect(whoami.isError, name).toBeFalsy();
    expect(whoami.structuredContent?.key.id).toBe(admin.keyId);
  });

  it.each(entries.filter(([, e]) => e.command !== undefined))('%s runs the stdio server as the configured key', async (name, entry) => {
    const env = Object.fromEntries(Object.entries(entry.env ?? {}).map(([k, v]) => [k, fill(v)]));
    const remote = env.DISPERSL_BASE_URL !== undefined;
    // A local entry uses the default database unless it names one; here that is the test's.
    const db = remote ? join(home.dir, `${name}-never.db`) : (env.DISPERSL_DB ?? dbPath);
    const s: StdioServer = await stdio(baseEnv(home.dir, { ...env, DISPERSL_DB: db }), [process.execPath, CLI, ...cliArgs(entry)]);
    closers.push(() => s.close());
    const tools = (await s.client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(cliArgs(entry).includes('--read-only') ? READ_TOOLS : ALL_TOOLS);
    const whoami = await call(s, 'whoami');
    expect(whoami.ok, whoami.text).toBe(true);
    expect((whoami.value.key as { id: string }).id).toBe(admin.keyId);
    if (remote) expect(existsSync(db)).toBe(false);
  });
});
