// Baseline of http-mcp.bench.js: the MCP SDK's stateless Streamable HTTP recipe, a new McpServer
// and StreamableHTTPServerTransport for every request (sessionIdGenerator: undefined, JSON
// responses), on node:http. Its whoami tool does the same work as ours (the same gate and
// service on the same database), so the two differ only in how MCP over HTTP is served.
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { LocalKeyApi } from '../dist/core/api.js';
import { openLocal } from '../dist/cli/local.js';

const local = await openLocal(process.env.DISPERSL_DB);

function mcpServer(api) {
  const server = new McpServer({ name: 'sdk-stateless-baseline', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who am I', inputSchema: {} }, async () => {
    const result = await api.call('whoami');
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  });
  return server;
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

const http = createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/mcp') {
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  try {
    const body = await readJson(req);
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const server = mcpServer(new LocalKeyApi(local.gate, local.service, { token, ip: req.socket.remoteAddress ?? '' }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch {
    if (!res.headersSent) res.writeHead(500).end();
  }
});
http.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => http.close(() => process.exit(0)));
