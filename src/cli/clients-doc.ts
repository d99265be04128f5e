import { CLIENTS, CLIENT_INFO, KEY_VAR, PLACEHOLDER_KEY, type Snippet, clientSnippets, installLinks } from './clients.js';

const FENCE: Record<Snippet['format'], string> = { json: 'json', toml: 'toml', shell: 'sh' };

/** docs/clients.md: every client's configs, as `clients.ts` builds them (`npm run docs:clients` writes it). */
export function renderClientsDoc(): string {
  const links = installLinks();
  const lines: string[] = [
    '# Connecting MCP clients',
    '',
    '<!-- Generated from src/cli/clients.ts by `npm run docs:clients`. A test keeps this file equal to what it',
    '     generates, and starts every config below against a real `dispersl-mcp serve` with the MCP SDK client. -->',
    '',
    'Each client connects one of two ways:',
    '',
    '- **stdio**: the client starts `npx -y dispersl-mcp`, which uses the database on this machine',
    '  (`~/.dispersl/dispersl.db`, or `DISPERSL_DB`), or in remote mode a running server\'s REST API',
    '  (`DISPERSL_BASE_URL`, see the README).',
    '- **Streamable HTTP**: the client posts to a running `dispersl-mcp serve` (`npm start` in a clone), at',
    '  `/mcp` with the key in a header, or `/ot/<key>` with the key in the path.',
    '',
    '`dispersl-mcp init --client <name>` creates a key and prints these configs with it, for one client',
    `(${CLIENTS.map((id) => `\`${id}\``).join(', ')}), several separated by commas, or \`all\`.`,
    'Below, where a client can read the key from the environment it is started in, the',
    `config does so (\`\${env:${KEY_VAR}}\` for Cursor and Windsurf, \`\${${KEY_VAR}}\` for Claude Code,`,
    `\`bearer_token_env_var\` and \`env_vars\` for Codex); VS Code asks for it once and keeps it in its secret`,
    `storage; elsewhere replace \`${PLACEHOLDER_KEY}\` with your key. Append \`/readonly\` to a URL`,
    '(`/mcp/readonly`) or add `--read-only` to the command for a connection that sees only the read tools.',
    '',
    '| client | where | stdio | Streamable HTTP |',
    '|---|---|---|---|',
    ...CLIENTS.map((id) => {
      const snippets = clientSnippets(id);
      const has = (transport: Snippet['transport']) => (snippets.some((s) => s.transport === transport) ? 'yes' : '—');
      return `| [${CLIENT_INFO[id].name}](#${anchor(CLIENT_INFO[id].name)}) | ${CLIENT_INFO[id].where} | ${has('stdio')} | ${has('http')} |`;
    }),
    '',
    '**One-click install** of the header form (the key comes from `DISPERSL_API_KEY`, never from the link):',
    `[Install in Cursor](${links.cursorWeb}) · [Install in VS Code](${links.vscodeWeb})`,
    '',
  ];
  for (const id of CLIENTS) {
    lines.push(`## ${CLIENT_INFO[id].name}`, '', `Where: ${CLIENT_INFO[id].where}.`, '');
    for (const s of clientSnippets(id)) lines.push(`${s.title}:`, '', '```' + FENCE[s.format], s.text, '```', '');
  }
  lines.push(
    '## On Windows',
    '',
    '`npx` is a batch file there, which clients that start a program without a shell cannot run: use',
    '`"command": "cmd", "args": ["/c", "npx", "-y", "dispersl-mcp"]` (Codex: `command = "cmd"`,',
    '`args = ["/c", "npx", "-y", "dispersl-mcp"]`). URL forms need no change.',
    '',
  );
  return lines.join('\n');
}

/** GitHub's heading anchor: lower case, spaces to dashes, punctuation dropped. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .replace(/\s/g, '-');
}
