import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderClientsDoc } from '../src/cli/clients-doc.js';
import { CLIENTS, EXAMPLE_ORIGIN, KEY_VAR, PLACEHOLDER_KEY, type Snippet, clientSnippets, installLinks } from '../src/cli/clients.js';
import { type Launch, type Surroundings, launchOf } from './helpers/client-config.js';
import { CLI, ROOT, type Served, baseEnv, init, serve, stdio, tempHome } from './helpers/remote.js';

/**
 * Every client config this project documents (docs/clients.md, from src/cli/clients.ts) and every one
 * `init --client all` prints, read as its client reads it and started against one real `serve`: URLs
 * with the SDK's Streamable HTTP client, commands with its stdio client (`npx -y dispersl-mcp` is the
 * package's bin, dist/cli/main.js). Each then calls a tool as the key it was given.
 */

const home = tempHome('clients');
const dbPath = join(home.dir, 'server.db');
let admin: { secret: string; keyId: string };
let server: Served;
const closers: Array<() => Promise<void>> = [];
const docs = CLIENTS.flatMap((client) => clientSnippets(client));

beforeAll(async () => {
  admin = init(home.dir, dbPath);
  server = await serve(home.dir, dbPath);
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
  await server?.stop();
  home.remove();
});

/** Connects as the launch says and answers which key whoami reports. */
async function whoamiVia(launch: Launch): Promise<string> {
  let client: Client;
  if (launch.kind === 'http') {
    client = new Client({ name: 'client-config', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(launch.url), { requestInit: { headers: launch.headers } }));
    closers.push(() => client.close());
  } else {
    expect([launch.command, ...launch.args.slice(0, 2)]).toEqual(['npx', '-y', 'dispersl-mcp']);
    // A stdio entry uses the default database unless it names one; here that is the test's.
    const s = await stdio(baseEnv(home.dir, { DISPERSL_DB: dbPath, ...launch.env }), [process.execPath, CLI, ...launch.args.slice(2)]);
    closers.push(() => s.close());
    client = s.client;
  }
  const result = (await client.callTool({ name: 'whoami', arguments: {} })) as { isError?: boolean; content: Array<{ text: string }>; structuredContent?: { key: { id: string } } };
  expect(result.isError, result.content[0]?.text).toBeFalsy();
  return result.structuredContent!.key.id;
}

/** What the user does to a documented config: their server's address, and their key where the placeholder stands. */
function asPasted(s: Snippet): Snippet {
  return { ...s, text: s.text.replaceAll(EXAMPLE_ORIGIN, server.origin).replaceAll(PLACEHOLDER_KEY, admin.secret) };
}

describe('docs/clients.md', () => {
  it('is generated from src/cli/clients.ts (npm run docs:clients rewrites it)', () => {
    expect(readFileSync(join(ROOT, 'docs/clients.md'), 'utf8')).toBe(renderClientsDoc());
  });

  it('covers every client over stdio or HTTP, and holds placeholders only, never a key', () => {
    expect(new Set(docs.map((s) => s.client))).toEqual(new Set(CLIENTS));
    const text = renderClientsDoc();
    expect(text.match(/pk_(live|test)_[0-9A-Za-z_]+/g)?.every((k) => k === PLACEHOLDER_KEY)).toBe(true);
    for (const client of ['vscode', 'claude-code', 'codex', 'zed']) {
      expect(docs.filter((s) => s.client === client).map((s) => s.transport).sort(), client).toEqual(expect.arrayContaining(['http', 'stdio']));
    }
  });

  it('shows Cursor, Windsurf and Claude Desktop exactly as mcp.example.json does', () => {
    const example = JSON.parse(readFileSync(join(ROOT, 'mcp.example.json'), 'utf8')) as { mcpServers: Record<string, unknown> };
    for (const s of docs.filter((d) => ['cursor', 'windsurf', 'claude-desktop'].includes(d.client))) {
      const entry = Object.values((JSON.parse(s.text) as { mcpServers: Record<string, unknown> }).mcpServers)[0];
      expect(Object.values(example.mcpServers), s.id).toContainEqual(entry);
    }
  });

  it.each(docs.map((s) => [s.id, s] as const))('%s, pasted as documented, connects to serve and calls a tool as the key', async (_, s) => {
    // The client runs where DISPERSL_API_KEY is set; VS Code's prompt gets the key typed in.
    const around: Surroundings = { env: { [KEY_VAR]: admin.secret }, prompt: admin.secret };
    expect(await whoamiVia(launchOf(asPasted(s), around))).toBe(admin.keyId);
  });
});

describe('dispersl-mcp init --client all', () => {
  let printed: { secret: string; keyId: string; output: string };
  const snippets = () => CLIENTS.flatMap((client) => clientSnippets(client, { origin: server.origin, secret: printed.secret, db: dbPath }));

  beforeAll(() => {
    const port = new URL(server.origin).port;
    const run = init(home.dir, dbPath, ['--client', 'all'], [process.execPath, CLI], ROOT, { DISPERSL_PORT: port });
    printed = run;
  });

  it("prints every client's configs for the new key, each under the line that says where it goes", () => {
    for (const s of snippets()) expect(printed.output, s.id).toContain(`\n${s.title}:\n${s.text}\n`);
    expect(printed.output).not.toContain(PLACEHOLDER_KEY);
  });

  it.each(CLIENTS.flatMap((client) => clientSnippets(client).map((s) => [s.id] as const)))('%s, as printed, connects as the new key', async (id) => {
    const s = snippets().find((p) => p.id === id)!;
    // Only where the printed line says so does the user put the key in the environment.
    const env: Record<string, string> = s.title.includes(KEY_VAR) ? { [KEY_VAR]: printed.secret } : {};
    expect(await whoamiVia(launchOf(s, { env, prompt: printed.secret }))).toBe(printed.keyId);
  });
});

describe('one-click installs in the README', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const links = installLinks();
  const header = { Authorization: `Bearer \${env:${KEY_VAR}}` };

  function decoded(): { cursor: unknown; vscode: Record<string, unknown> } {
    const cursorWeb = /\[Install in Cursor\]\((https:[^)\s]+)\)/.exec(readme)?.[1];
    const vscodeWeb = /\[Install in VS Code\]\((https:[^)\s]+)\)/.exec(readme)?.[1];
    expect(cursorWeb).toBe(links.cursorWeb);
    expect(vscodeWeb).toBe(links.vscodeWeb);
    const cursorUrl = new URL(cursorWeb!);
    expect(cursorUrl.searchParams.get('name')).toBe('dispersl');
    const cursor = JSON.parse(Buffer.from(cursorUrl.searchParams.get('config')!, 'base64').toString('utf8')) as unknown;
    expect(links.cursor).toBe(`cursor://anysphere.cursor-deeplink/mcp/install${cursorUrl.search}`);
    const inner = new URL(vscodeWeb!).searchParams.get('url')!;
    expect(inner).toBe(links.vscode);
    expect(inner.startsWith('vscode:mcp/install?')).toBe(true);
    const vscode = JSON.parse(decodeURIComponent(inner.slice('vscode:mcp/install?'.length))) as Record<string, unknown>;
    return { cursor, vscode };
  }

  it('install the header form with the key read from DISPERSL_API_KEY, never a key in the link', () => {
    const { cursor, vscode } = decoded();
    expect(cursor).toEqual({ url: `${EXAMPLE_ORIGIN}/mcp`, headers: header });
    expect(vscode).toEqual({ name: 'dispersl', type: 'http', url: `${EXAMPLE_ORIGIN}/mcp`, headers: header });
    // The very config docs/clients.md shows for Cursor.
    const documented = JSON.parse(docs.find((s) => s.id === 'cursor-header')!.text) as { mcpServers: Record<string, unknown> };
    expect(Object.values(documented.mcpServers)[0]).toEqual(cursor);
    expect(JSON.stringify({ cursor, vscode })).not.toMatch(/pk_(live|test)_/);
  });

  it('install configs that connect to serve as the key in DISPERSL_API_KEY', async () => {
    const { cursor, vscode } = decoded();
    const around: Surroundings = { env: { [KEY_VAR]: admin.secret }, prompt: admin.secret };
    for (const [client, entry] of [
      ['cursor', { mcpServers: { dispersl: cursor } }],
      ['vscode', { servers: { dispersl: vscode } }],
    ] as const) {
      const s: Snippet = { id: `${client}-link`, client, transport: 'http', format: 'json', title: '', text: JSON.stringify(entry).replaceAll(EXAMPLE_ORIGIN, server.origin) };
      expect(await whoamiVia(launchOf(s, around))).toBe(admin.keyId);
    }
  });
});
