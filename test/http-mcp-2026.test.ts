import { beforeEach, describe, expect, it } from 'vitest';
import { ALL_PROTOCOL_VERSIONS } from '../src/mcp/eras.js';
import { type AppWorld, appWorld, bodyOf } from './helpers/http-app.js';
import { specIssues } from './helpers/spec.js';

/** MCP 2026-07-28 over HTTP, in process: the revision's wire rules and errors, beside the legacy ones. */

type Rpc = { jsonrpc: '2.0'; id?: number | string | null; result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> } };

const V = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} };

let w: AppWorld;
let admin: string;
beforeEach(async () => {
  w = await appWorld();
  admin = w.tenant.adminSecret;
});

/** A 2026-07-28 request with the headers the revision asks for; `headers` overrides or (with undefined) removes them. */
async function modern(path: string, method: string, params: Record<string, unknown> = {}, headers: Record<string, string | undefined> = {}, id: number | string = 41) {
  const name = typeof params.name === 'string' ? params.name : undefined;
  const all: Record<string, string | undefined> = { 'mcp-protocol-version': V, 'mcp-method': method, ...(name !== undefined && { 'mcp-name': name }), ...headers };
  const sent = Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
  const key = path.startsWith('/ot/') ? undefined : admin;
  const answer = await w.ask('POST', path, { key, headers: sent, body: { jsonrpc: '2.0', id, method, params: { _meta: META, ...params } } });
  const body = bodyOf<Rpc>(answer);
  // Every answer is a well-formed JSON-RPC message by the SDK's published schema, and never carries id: null.
  expect(specIssues('JSONRPCMessage', body), answer.text).toBeUndefined();
  expect(body.id).not.toBeNull();
  return { status: answer.status, body };
}

async function remaining(key: string): Promise<number> {
  return (await w.callerOf(key)).window.remaining;
}

describe('MCP 2026-07-28 over HTTP', () => {
  it('answers server/discover with versions, capabilities, instructions and the server in _meta, for free', async () => {
    const { status, body } = await modern('/mcp', 'server/discover');
    expect(status).toBe(200);
    expect(specIssues('DiscoverResult', body.result)).toBeUndefined();
    expect(body.result).toMatchObject({
      resultType: 'complete',
      supportedVersions: [V, '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'],
      capabilities: { tools: { listChanged: false } },
      instructions: expect.stringContaining('whoami'),
      _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'dispersl-mcp', version: expect.any(String) } },
    });
    expect(await remaining(admin)).toBe(100);
  });

  it('needs a valid key for server/discover, like tools/list', async () => {
    const answer = await w.ask('POST', '/mcp', {
      headers: { 'mcp-protocol-version': V, 'mcp-method': 'server/discover' },
      body: { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: META } },
    });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('lists tools with titles and private caching hints on every endpoint, per caller', async () => {
    for (const path of ['/mcp', `/ot/${admin}`, '/mcp/readonly', `/ot/${admin}/readonly`]) {
      const { status, body } = await modern(path, 'tools/list');
      expect(status).toBe(200);
      expect(specIssues('ListToolsResult', body.result)).toBeUndefined();
      expect(body.result).toMatchObject({ resultType: 'complete', ttlMs: 60000, cacheScope: 'private' });
      const tools = body.result!.tools as Array<{ name: string; title: string }>;
      expect(tools.every((t) => typeof t.title === 'string' && t.title.length > 0)).toBe(true);
      expect(tools.length).toBe(path.endsWith('/readonly') ? 5 : 9);
    }
  });

  it('calls a tool once, charged once, with resultType complete', async () => {
    const { status, body } = await modern(`/ot/${admin}`, 'tools/call', { name: 'whoami', arguments: {} });
    expect(status).toBe(200);
    expect(specIssues('CallToolResult', body.result)).toBeUndefined();
    expect(body.result).toMatchObject({ resultType: 'complete', structuredContent: { limits: { hourly: { remaining: 99 } } } });
    expect(await remaining(admin)).toBe(99);
  });

  it('answers the removed and unknown methods 404 / -32601, echoing the id', async () => {
    for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'prompts/list', 'unknown/method']) {
      const { status, body } = await modern('/mcp', method, {}, {}, `id-${method}`);
      expect([status, body.error?.code, body.id]).toEqual([404, -32601, `id-${method}`]);
    }
  });

  it('refuses a missing or incomplete _meta with 400 / -32602, echoing the id', async () => {
    const cases: Array<Record<string, unknown>> = [
      {},
      { _meta: { 'io.modelcontextprotocol/clientCapabilities': {} } },
      { _meta: { 'io.modelcontextprotocol/protocolVersion': V } },
      { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': 20260728 } },
      { _meta: { ...META, 'io.modelcontextprotocol/clientCapabilities': [] } },
      { _meta: { ...META, 'io.modelcontextprotocol/clientInfo': 'me' } },
      { _meta: { ...META, 'io.modelcontextprotocol/logLevel': 'loud' } },
      { _meta: 'not an object' },
    ];
    for (const params of cases) {
      const answer = await w.ask('POST', '/mcp', {
        key: admin,
        headers: { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' },
        body: { jsonrpc: '2.0', id: 9, method: 'tools/list', params },
      });
      const body = bodyOf<Rpc>(answer);
      expect([answer.status, body.error?.code, body.id], JSON.stringify(params)).toEqual([400, -32602, 9]);
    }
  });

  it('answers a version it does not speak with 400 / -32022 naming the supported and the requested', async () => {
    const meta = { ...META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' };
    const answer = await w.ask('POST', '/mcp', {
      key: admin,
      headers: { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'server/discover' },
      body: { jsonrpc: '2.0', id: 301, method: 'server/discover', params: { _meta: meta } },
    });
    expect(answer.status).toBe(400);
    expect(bodyOf<Rpc>(answer)).toEqual({
      jsonrpc: '2.0',
      id: 301,
      error: { code: -32022, message: expect.any(String), data: { supported: [V, '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'], requested: '2099-01-01' } },
    });
  });

  it('refuses headers that are missing or disagree with the body with 400 / -32020', async () => {
    const cases: Array<[string, Record<string, unknown>, Record<string, string | undefined>]> = [
      ['server/discover', {}, { 'mcp-protocol-version': '2025-11-25' }],
      ['server/discover', {}, { 'mcp-protocol-version': undefined }],
      ['tools/list', {}, { 'mcp-method': 'prompts/list' }],
      ['tools/list', {}, { 'mcp-method': 'TOOLS/LIST' }],
      ['tools/list', {}, { 'mcp-method': undefined }],
      ['tools/call', { name: 'whoami', arguments: {} }, { 'mcp-name': 'list_keys' }],
      ['tools/call', { name: 'whoami', arguments: {} }, { 'mcp-name': undefined }],
      ['tools/call', { name: 'whoami', arguments: {} }, { 'mcp-name': '=?base64?not base64?=' }],
    ];
    for (const [method, params, headers] of cases) {
      const { status, body } = await modern('/mcp', method, params, headers, 7);
      expect([status, body.error?.code, body.id], `${method} ${JSON.stringify(headers)}`).toEqual([400, -32020, 7]);
    }
    expect(await remaining(admin)).toBe(100); // refused calls cost nothing
  });

  it('accepts header names in any case, values with whitespace around them, and a Base64 Mcp-Name', async () => {
    const b64 = `=?base64?${Buffer.from('whoami').toString('base64')}?=`;
    for (const headers of [{ 'mcp-method': undefined, 'MCP-METHOD': 'tools/call', 'mcp-name': '  whoami  ' }, { 'mcp-name': b64 }]) {
      const { status, body } = await modern('/mcp', 'tools/call', { name: 'whoami', arguments: {} }, headers);
      expect(status).toBe(200);
      expect(body.result?.resultType).toBe('complete');
    }
  });

  it('refuses a legacy request whose Mcp-Method or Mcp-Name header disagrees with its body', async () => {
    const method = await w.rpc('/mcp', admin, 'tools/list', undefined, { 'mcp-method': 'tools/call' });
    expect([method.status, bodyOf<Rpc>(method).error?.code]).toEqual([400, -32020]);
    const name = await w.rpc('/mcp', admin, 'tools/call', { name: 'whoami', arguments: {} }, { 'mcp-name': 'list_keys' });
    expect([name.status, bodyOf<Rpc>(name).error?.code]).toEqual([400, -32020]);
    // Agreeing headers, or none, change nothing for a 2025 client.
    const fine = await w.rpc('/mcp', admin, 'tools/list', undefined, { 'mcp-method': 'tools/list', 'mcp-protocol-version': '2025-11-25' });
    expect(fine.status).toBe(200);
    expect(bodyOf<Rpc>(fine).result?.resultType).toBeUndefined();
  });

  it('refuses a 2026-07-28 header on a request without _meta, and an initialize under it', async () => {
    const bare = await w.rpc('/mcp', admin, 'tools/list', undefined, { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' });
    expect([bare.status, bodyOf<Rpc>(bare).error?.code, bodyOf<Rpc>(bare).id]).toEqual([400, -32602, expect.any(Number)]);
    const init = await w.rpc('/mcp', admin, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } }, { 'mcp-protocol-version': V });
    expect([init.status, bodyOf<Rpc>(init).error?.code]).toEqual([400, -32020]);
  });

  it('answers -32022 with the revisions it speaks to a header naming one it does not, in either era and in a batch', async () => {
    const init = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } };
    for (const version of ['2099-01-01', '2000-01-01', 'invalid-protocol-version', '2026-07-28x']) {
      for (const [method, params] of [['initialize', init], ['tools/list', undefined], ['tools/list', { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': version } }]] as const) {
        const answer = await w.rpc('/mcp', admin, method, params, { 'mcp-protocol-version': version, 'mcp-method': method });
        expect([answer.status, bodyOf<Rpc>(answer).id, bodyOf<Rpc>(answer).error?.code], `${version} ${method}`).toEqual([400, expect.any(Number), -32022]);
        expect(bodyOf<Rpc>(answer).error?.data).toEqual({ supported: ALL_PROTOCOL_VERSIONS, requested: version });
      }
    }
    const batch = await w.ask('POST', '/mcp', { key: admin, headers: { 'mcp-protocol-version': '2099-01-01' }, body: [{ jsonrpc: '2.0', id: 1, method: 'ping' }] });
    expect([batch.status, bodyOf<Rpc>(batch).error?.code]).toEqual([400, -32022]);
    // A revision it speaks, named with spaces around it, is that revision.
    expect((await w.rpc('/mcp', admin, 'ping', undefined, { 'mcp-protocol-version': ' 2025-06-18 ' })).status).toBe(200);
  });

  it('refuses a batch holding a 2026-07-28 request', async () => {
    const answer = await w.ask('POST', '/mcp', { key: admin, body: [{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: META } }] });
    expect([answer.status, bodyOf<Rpc>(answer).error?.code]).toEqual([400, -32600]);
  });

  it('answers a huge _meta with 413 before reading it, never a 5xx', async () => {
    const meta = { ...META, 'example.com/blob': 'x'.repeat(400_000) };
    const answer = await w.ask('POST', '/mcp', { key: admin, headers: { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' }, body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } } });
    expect(answer.status).toBe(413);
  });

  it('refuses a requestState it did not issue with -32602 and INVALID_REQUEST, before running the tool', async () => {
    for (const requestState of ['forged', 'AQ' + 'A'.repeat(60), 'x'.repeat(20_000), 42]) {
      const { status, body } = await modern('/mcp', 'tools/call', { name: 'whoami', arguments: {}, requestState, inputResponses: {} });
      expect(status).toBe(200);
      expect(body.error).toMatchObject({ code: -32602, data: { type: 'INVALID_REQUEST' } });
      expect(JSON.stringify(body)).not.toMatch(/at .*\.js|stack/i);
    }
  });
});
