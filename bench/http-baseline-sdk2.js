// Baseline of http-mcp-2026.bench.js: the MCP SDK v2's createMcpHandler (`@modelcontextprotocol/server`
// 2.x), which serves 2026-07-28 from a per-request server factory and falls back to stateless legacy
// serving for 2025-era traffic, on @hono/node-server (as ours is). Its whoami tool does the same work
// as ours (the same gate and service on the same database), so the two differ only in how MCP is served.
import { serve } from '@hono/node-server';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { LocalKeyApi } from '../dist/core/api.js';
import { openLocal } from '../dist/cli/local.js';

const local = await openLocal(process.env.DISPERSL_DB);

const handler = createMcpHandler(({ requestInfo }) => {
  const token = /^Bearer (\S+)$/i.exec(requestInfo.headers.get('authorization') ?? '')?.[1];
  const api = new LocalKeyApi(local.gate, local.service, { token, ip: '127.0.0.1' });
  const server = new McpServer({ name: 'sdk2-baseline', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.registerTool('whoami', { description: 'Who am I' }, async () => {
    const result = await api.call('whoami');
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  });
  return server;
}, { responseMode: 'json' });

const server = serve({ fetch: (request) => handler.fetch(request), port: Number(process.env.PORT), hostname: '127.0.0.1' });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
