/**
 * How each MCP client connects to this server: the one place the config shapes live. `init`
 * prints them for a new key, docs/clients.md is generated from them, and a test starts every one
 * of them against a real server.
 */

export const CLIENTS = ['cursor', 'windsurf', 'vscode', 'claude-code', 'codex', 'claude-desktop', 'zed'] as const;
export type ClientId = (typeof CLIENTS)[number];

export function isClientId(value: string): value is ClientId {
  return (CLIENTS as readonly string[]).includes(value);
}

/** The name every config gives this server. */
export const SERVER_NAME = 'dispersl';
const PACKAGE = 'dispersl-mcp';
export const KEY_VAR = 'DISPERSL_API_KEY';
/** Stands for the key where a client can only take the key itself. */
export const PLACEHOLDER_KEY = 'pk_live_YOUR_KEY';
/** Where `serve` listens by default; docs show it, `init` prints the address it was given. */
export const EXAMPLE_ORIGIN = 'http://127.0.0.1:8787';
/** VS Code's input variable for the key: it asks once, masked, and keeps the answer in its secret storage. */
export const VSCODE_INPUT = 'dispersl-api-key';

export interface ClientInfo {
  id: ClientId;
  name: string;
  /** Where its configuration lives. */
  where: string;
}

export const CLIENT_INFO: Record<ClientId, ClientInfo> = {
  cursor: { id: 'cursor', name: 'Cursor', where: '`.cursor/mcp.json` in a project, or `~/.cursor/mcp.json`' },
  windsurf: { id: 'windsurf', name: 'Windsurf', where: '`~/.codeium/windsurf/mcp_config.json`' },
  vscode: { id: 'vscode', name: 'VS Code', where: '`.vscode/mcp.json` in a workspace, or the user `mcp.json` (MCP: Open User Configuration)' },
  'claude-code': { id: 'claude-code', name: 'Claude Code', where: '`claude mcp add` (your user config), or `.mcp.json` at a project root (shared with the project)' },
  codex: { id: 'codex', name: 'OpenAI Codex CLI', where: '`~/.codex/config.toml` (or `.codex/config.toml` in a trusted project)' },
  'claude-desktop': {
    id: 'claude-desktop',
    name: 'Claude Desktop',
    where: '`claude_desktop_config.json` (`~/Library/Application Support/Claude/` on macOS, `%APPDATA%\\Claude\\` on Windows)',
  },
  zed: { id: 'zed', name: 'Zed', where: '`settings.json` (zed: open settings), or `.zed/settings.json` in a project' },
};

export type Transport = 'http' | 'stdio';
export type Format = 'json' | 'toml' | 'shell';

/** One way to connect: a config to paste, or a command to run. */
export interface Snippet {
  /** `<client>-<form>`, e.g. `cursor-header`. */
  id: string;
  client: ClientId;
  transport: Transport;
  format: Format;
  /** What it is and where it goes, as one line. */
  title: string;
  text: string;
}

export interface SnippetOptions {
  /** Where `serve` is reached (default http://127.0.0.1:8787). */
  origin?: string;
  /** The key to write in. Without one, each client's own way to read DISPERSL_API_KEY, or the placeholder. */
  secret?: string;
  /** DISPERSL_DB for the stdio forms, when the database is not the default one. */
  db?: string;
}

interface Context {
  origin: string;
  secret: string | undefined;
  db: string | undefined;
}

const NPX = { command: 'npx', args: ['-y', PACKAGE] };

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** The key as a client that takes `${env:NAME}` (Cursor, Windsurf, VS Code) reads it from the environment. */
const envRef = (ctx: Context) => ctx.secret ?? `\${env:${KEY_VAR}}`;
/** The key where a client takes only the key itself. */
const literal = (ctx: Context) => ctx.secret ?? PLACEHOLDER_KEY;

function stdioEnv(ctx: Context, key: string): Record<string, string> {
  return { [KEY_VAR]: key, ...(ctx.db !== undefined && { DISPERSL_DB: ctx.db }) };
}

/** A POSIX shell word: bare when it is plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A TOML basic string (JSON's escapes are valid TOML ones). */
const tomlString = (value: string) => JSON.stringify(value);

const serveNote = (ctx: Context) => `while \`dispersl-mcp serve\` runs at ${ctx.origin}`;

type Builder = (ctx: Context) => Snippet[];

const BUILDERS: Record<ClientId, Builder> = {
  cursor: (ctx) => [
    {
      id: 'cursor-header',
      client: 'cursor',
      transport: 'http',
      format: 'json',
      title: `Cursor (.cursor/mcp.json), ${serveNote(ctx)}; the header form keeps the key out of URLs and logs`,
      text: json({ mcpServers: { [SERVER_NAME]: { url: `${ctx.origin}/mcp`, headers: { Authorization: `Bearer ${envRef(ctx)}` } } } }),
    },
    {
      id: 'cursor-url',
      client: 'cursor',
      transport: 'http',
      format: 'json',
      title: 'Cursor, with the key in the URL path (for clients that take nothing but a URL)',
      text: json({ mcpServers: { [SERVER_NAME]: { url: `${ctx.origin}/ot/${literal(ctx)}` } } }),
    },
  ],
  windsurf: (ctx) => [
    {
      id: 'windsurf-stdio',
      client: 'windsurf',
      transport: 'stdio',
      format: 'json',
      title: 'Windsurf (~/.codeium/windsurf/mcp_config.json), MCP over stdio',
      text: json({ mcpServers: { [SERVER_NAME]: { ...NPX, env: stdioEnv(ctx, literal(ctx)) } } }),
    },
    {
      id: 'windsurf-http',
      client: 'windsurf',
      transport: 'http',
      format: 'json',
      title: `Windsurf over Streamable HTTP ${serveNote(ctx)} (Windsurf calls the URL serverUrl)`,
      text: json({ mcpServers: { [SERVER_NAME]: { serverUrl: `${ctx.origin}/mcp`, headers: { Authorization: `Bearer ${envRef(ctx)}` } } } }),
    },
  ],
  vscode: (ctx) => {
    const inputs = [{ type: 'promptString', id: VSCODE_INPUT, description: 'Dispersl API key (pk_live_… or pk_test_…)', password: true }];
    const key = `\${input:${VSCODE_INPUT}}`;
    return [
      {
        id: 'vscode-http',
        client: 'vscode',
        transport: 'http',
        format: 'json',
        title: `VS Code (.vscode/mcp.json), ${serveNote(ctx)}; VS Code asks for the key once and keeps it in its secret storage`,
        text: json({ inputs, servers: { [SERVER_NAME]: { type: 'http', url: `${ctx.origin}/mcp`, headers: { Authorization: `Bearer ${key}` } } } }),
      },
      {
        id: 'vscode-stdio',
        client: 'vscode',
        transport: 'stdio',
        format: 'json',
        title: 'VS Code (.vscode/mcp.json), MCP over stdio; VS Code asks for the key once',
        text: json({ inputs, servers: { [SERVER_NAME]: { type: 'stdio', ...NPX, env: stdioEnv(ctx, key) } } }),
      },
    ];
  },
  'claude-code': (ctx) => {
    // On the command line the shell puts the key in; in .mcp.json Claude Code expands ${VAR} itself.
    const shellKey = ctx.secret ?? `$${KEY_VAR}`;
    const expanded = `\${${KEY_VAR}}`;
    const envFlags = ['--env', ctx.secret === undefined ? `${KEY_VAR}="${shellKey}"` : shellWord(`${KEY_VAR}=${ctx.secret}`)];
    if (ctx.db !== undefined) envFlags.push('--env', shellWord(`DISPERSL_DB=${ctx.db}`));
    return [
      {
        id: 'claude-code-http',
        client: 'claude-code',
        transport: 'http',
        format: 'shell',
        title: `Claude Code, ${serveNote(ctx)}`,
        text: ['claude mcp add --transport http', SERVER_NAME, shellWord(`${ctx.origin}/mcp`), '--header', `"Authorization: Bearer ${shellKey}"`].join(' '),
      },
      {
        id: 'claude-code-project-http',
        client: 'claude-code',
        transport: 'http',
        format: 'json',
        title: `Claude Code, for everyone on a project (.mcp.json at its root; each person sets ${KEY_VAR})`,
        text: json({ mcpServers: { [SERVER_NAME]: { type: 'http', url: `${ctx.origin}/mcp`, headers: { Authorization: `Bearer ${expanded}` } } } }),
      },
      {
        id: 'claude-code-stdio',
        client: 'claude-code',
        transport: 'stdio',
        format: 'shell',
        title: 'Claude Code, MCP over stdio',
        text: ['claude mcp add --transport stdio', ...envFlags, SERVER_NAME, '--', NPX.command, ...NPX.args].join(' '),
      },
      {
        id: 'claude-code-project-stdio',
        client: 'claude-code',
        transport: 'stdio',
        format: 'json',
        title: `Claude Code, MCP over stdio for everyone on a project (.mcp.json; each person sets ${KEY_VAR})`,
        text: json({ mcpServers: { [SERVER_NAME]: { type: 'stdio', ...NPX, env: stdioEnv(ctx, expanded) } } }),
      },
    ];
  },
  codex: (ctx) => {
    // Codex reads the key from its own environment: it refuses a bearer token written in the file.
    const setKey = ctx.secret === undefined ? `set ${KEY_VAR} in the environment Codex starts from` : `run Codex with ${KEY_VAR}=<the key above> in its environment`;
    const table = `[mcp_servers.${SERVER_NAME}]`;
    return [
      {
        id: 'codex-http',
        client: 'codex',
        transport: 'http',
        format: 'toml',
        title: `OpenAI Codex CLI (~/.codex/config.toml), ${serveNote(ctx)}; ${setKey}`,
        text: [table, `url = ${tomlString(`${ctx.origin}/mcp`)}`, `bearer_token_env_var = ${tomlString(KEY_VAR)}`].join('\n'),
      },
      {
        id: 'codex-stdio',
        client: 'codex',
        transport: 'stdio',
        format: 'toml',
        title: `OpenAI Codex CLI (~/.codex/config.toml), MCP over stdio; ${setKey}`,
        text: [
          table,
          `command = ${tomlString(NPX.command)}`,
          `args = [${NPX.args.map(tomlString).join(', ')}]`,
          `env_vars = [${tomlString(KEY_VAR)}]`,
          ...(ctx.db !== undefined ? [`env = { DISPERSL_DB = ${tomlString(ctx.db)} }`] : []),
        ].join('\n'),
      },
    ];
  },
  'claude-desktop': (ctx) => [
    {
      id: 'claude-desktop-stdio',
      client: 'claude-desktop',
      transport: 'stdio',
      format: 'json',
      title: 'Claude Desktop (claude_desktop_config.json), MCP over stdio',
      text: json({ mcpServers: { [SERVER_NAME]: { ...NPX, env: stdioEnv(ctx, literal(ctx)) } } }),
    },
  ],
  zed: (ctx) => [
    {
      id: 'zed-stdio',
      client: 'zed',
      transport: 'stdio',
      format: 'json',
      title: 'Zed (settings.json), MCP over stdio',
      text: json({ context_servers: { [SERVER_NAME]: { ...NPX, env: stdioEnv(ctx, literal(ctx)) } } }),
    },
    {
      id: 'zed-http',
      client: 'zed',
      transport: 'http',
      format: 'json',
      title: `Zed (settings.json), ${serveNote(ctx)}`,
      text: json({ context_servers: { [SERVER_NAME]: { url: `${ctx.origin}/mcp`, headers: { Authorization: `Bearer ${literal(ctx)}` } } } }),
    },
  ],
};

/** The ways `client` connects, for `options.secret` or, without one, as the docs show them. */
export function clientSnippets(client: ClientId, options: SnippetOptions = {}): Snippet[] {
  return BUILDERS[client]({ origin: options.origin ?? EXAMPLE_ORIGIN, secret: options.secret, db: options.db });
}

export function snippet(id: string, options: SnippetOptions = {}): Snippet {
  const found = CLIENTS.flatMap((client) => clientSnippets(client, options)).find((s) => s.id === id);
  if (found === undefined) throw new Error(`no client snippet ${id}`);
  return found;
}

/**
 * One-click installs for the header form, with the key read from DISPERSL_API_KEY: never a key in
 * a link. `vscode` is VS Code's own `vscode:mcp/install` link; `vscodeWeb` and `cursorWeb` are the
 * https redirects a README on GitHub can link (it drops links to other schemes).
 */
export function installLinks(origin: string = EXAMPLE_ORIGIN): { cursor: string; cursorWeb: string; vscode: string; vscodeWeb: string } {
  const header = { Authorization: `Bearer \${env:${KEY_VAR}}` };
  const cursorConfig = Buffer.from(JSON.stringify({ url: `${origin}/mcp`, headers: header })).toString('base64');
  const query = `name=${SERVER_NAME}&config=${encodeURIComponent(cursorConfig)}`;
  const vscode = `vscode:mcp/install?${encodeURIComponent(JSON.stringify({ name: SERVER_NAME, type: 'http', url: `${origin}/mcp`, headers: header }))}`;
  return {
    cursor: `cursor://anysphere.cursor-deeplink/mcp/install?${query}`,
    cursorWeb: `https://cursor.com/en/install-mcp?${query}`,
    vscode,
    vscodeWeb: `https://insiders.vscode.dev/redirect?url=${encodeURIComponent(vscode)}`,
  };
}
