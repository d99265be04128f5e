// Baseline of stdio-start.bench.js: the MCP SDK v2's serveStdio (`@modelcontextprotocol/server/stdio`)
// serving the same whoami tool through the same LocalKeyApi (opened on first use, as ours is).
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

let api;
async function open() {
  const [{ LocalKeyApi }, { openLocal }] = await Promise.all([import('../dist/core/api.js'), import('../dist/cli/local.js')]);
  const local = await openLocal(process.env.DISPERSL_DB);
  return new LocalKeyApi(local.gate, local.service, { token: process.env.DISPERSL_API_KEY, ip: '127.0.0.1' });
}

serveStdio(() => {
  const server = new McpServer({ name: 'sdk2-stdio-baseline', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.registerTool('whoami', { description: 'Who am I' }, async () => {
    api ??= open();
    const result = await (await api).call('whoami');
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  });
  return server;
});
