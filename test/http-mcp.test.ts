import { beforeEach, describe, expect, it } from 'vitest';
import { type AppWorld, appWorld, bodyOf, makeKey } from './helpers/http-app.js';

type Rpc = { jsonrpc: '2.0'; id: number | string | null; result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> } };
type ToolResult = { content: Array<{ text: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

const ALL = ['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events'];
const READ = ['list_keys', 'get_key', 'whoami', 'get_usage', 'list_events'];

let w: AppWorld;
let admin: string;
beforeEach(async () => {
  w = await appWorld();
  admin = w.tenant.adminSecret;
});

const INIT = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } };

async function toolNames(path: string, key?: string): Promise<string[]> {
  const answer = await w.rpc(path, key, 'tools/list');
  return (bodyOf<Rpc>(answer).result as { tools: Array<{ name: string }> }).tools.map((t) => t.name);
}

async function remaining(key: string): Promise<number> {
  return (await w.callerOf(key)).window.remaining;
}

describe('MCP over HTTP (in process)', () => {
  it('answers initialize statelessly: JSON, no session id', async () => {
    const answer = await w.rpc('/mcp', admin, 'initialize', INIT);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    expect(answer.headers.get('mcp-session-id')).toBeNull();
    expect(bodyOf<Rpc>(answer).result).toMatchObject({ protocolVersion: '2025-06-18', serverInfo: { name: 'dispersl-mcp' }, capabilities: { tools: {} } });
  });

  it('accepts notifications with 202 and no body', async () => {
    const answer = await w.ask('POST', '/mcp', { key: admin, body: { jsonrpc: '2.0', method: 'notifications/initialized' } });
    expect(answer.status).toBe(202);
    expect(answer.text).toBe('');
  });

  it('shows write tools only where they may be used', async () => {
    expect(await toolNames('/mcp', admin)).toEqual(ALL);
    expect(await toolNames(`/ot/${admin}`)).toEqual(ALL);
    expect(await toolNames('/mcp/readonly', admin)).toEqual(READ);
    expect(await toolNames(`/ot/${admin}/readonly`)).toEqual(READ);
    const reader = await makeKey(w, { permissions: ['keys:read'] });
    expect(await toolNames('/mcp', reader.secret)).toEqual(READ);
  });

  it('charges one request per tools/call and nothing for initialize, ping or tools/list', async () => {
    await w.rpc('/mcp', admin, 'initialize', INIT);
    await w.rpc('/mcp', admin, 'ping');
    await w.rpc('/mcp', admin, 'tools/list');
    expect(await remaining(admin)).toBe(100);
    const answer = await w.rpc(`/ot/${admin}`, undefined, 'tools/call', { name: 'whoami', arguments: {} });
    const result = bodyOf<Rpc>(answer).result as ToolResult;
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toMatchObject({ organization: { id: w.tenant.org.id }, limits: { hourly: { remaining: 99 } } });
    expect(JSON.parse(result.content[0]!.text)).toEqual(result.structuredContent);
    expect(answer.headers.get('x-ratelimit-remaining')).toBe('99');
    expect(await remaining(admin)).toBe(99);
  });

  it('runs write tools over HTTP, and refuses them on /readonly without charging', async () => {
    const created = bodyOf<Rpc>(await w.rpc('/mcp', admin, 'tools/call', { name: 'generate_key', arguments: { name: 'over http' } }));
    expect((created.result as ToolResult).structuredContent).toMatchObject({ key: { name: 'over http' }, secret: expect.stringMatching(/^pk_live_/) });
    const before = await remaining(admin);
    const refused = bodyOf<Rpc>(await w.rpc('/mcp/readonly', admin, 'tools/call', { name: 'generate_key', arguments: { name: 'nope' } }));
    expect(refused.error).toMatchObject({ code: -32602, message: expect.stringContaining('read-only') });
    expect(await remaining(admin)).toBe(before);
    expect(w.count('keys')).toBe(2);
  });

  it('reports a tool error as an isError result with the envelope', async () => {
    const answer = bodyOf<Rpc>(await w.rpc('/mcp', admin, 'tools/call', { name: 'get_key', arguments: { id: 'key_Nope000000000000000' } }));
    const result = answer.result as ToolResult;
    expect(result.isError).toBe(true);
    expect(JSON.parse(result.content[0]!.text)).toMatchObject({ error: { code: 404, type: 'NOT_FOUND' } });
  });

  it('reports a spent quota as a tool error with the 429 envelope', async () => {
    const k = await makeKey(w, { rate_limit: { max: 1, window_ms: 60_000 } });
    await w.rpc('/mcp', k.secret, 'tools/call', { name: 'whoami' });
    const answer = await w.rpc('/mcp', k.secret, 'tools/call', { name: 'whoami' });
    expect(answer.status).toBe(200);
    const result = bodyOf<Rpc>(answer).result as ToolResult;
    expect(result.isError).toBe(true);
    expect(JSON.parse(result.content[0]!.text)).toMatchObject({ error: { code: 429, type: 'RATE_LIMIT_EXCEEDED', details: { retry_after: expect.any(Number) } } });
    expect(answer.headers.get('x-ratelimit-remaining')).toBe('0');
  });

  it('answers a batch with an array, in order', async () => {
    const answer = await w.ask('POST', '/mcp', {
      key: admin,
      body: [
        { jsonrpc: '2.0', id: 'a', method: 'ping' },
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'whoami' } },
      ],
    });
    const replies = bodyOf<Rpc[]>(answer);
    expect(replies.map((r) => r.id)).toEqual(['a', 'b']);
    expect(await remaining(admin)).toBe(99);
  });
});

describe('MCP over HTTP: the transport refuses', () => {
  it('GET and DELETE with 405 and Allow: POST', async () => {
    for (const method of ['GET', 'DELETE', 'PUT']) {
      for (const path of ['/mcp', '/mcp/readonly', `/ot/${admin}`, `/ot/${admin}/readonly`]) {
        const answer = await w.ask(method, path, { key: admin });
        expect(answer.status).toBe(405);
        expect(answer.headers.get('allow')).toBe('POST');
        expect(bodyOf<Rpc>(answer).error?.code).toBe(-32000);
      }
    }
  });

  it('a foreign Origin with 403, and accepts loopback and same-origin ones', async () => {
    const foreign = await w.rpc('/mcp', admin, 'ping', undefined, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(bodyOf<Rpc>(foreign).error?.message).toMatch(/Origin/);
    expect((await w.rpc('/mcp', admin, 'ping', undefined, { origin: 'null' })).status).toBe(403);
    expect((await w.rpc('/mcp', admin, 'ping', undefined, { origin: 'http://localhost:6274' })).status).toBe(200);
    expect((await w.rpc('/mcp', admin, 'ping', undefined, { origin: 'http://127.0.0.1:8787', host: '127.0.0.1:8787' })).status).toBe(200);
  });

  it('a non-loopback Host while bound to loopback (DNS rebinding), but not when bound elsewhere', async () => {
    const rebound = await w.rpc('/mcp', admin, 'ping', undefined, { host: 'attacker.example:8787' });
    expect(rebound.status).toBe(403);
    expect((await w.rpc('/mcp', admin, 'ping', undefined, { host: 'localhost:8787' })).status).toBe(200);
    expect((await w.rpc('/mcp', admin, 'ping', undefined, { host: '[::1]:8787' })).status).toBe(200);
    const open = await appWorld({ host: '0.0.0.0' });
    const named = await open.rpc('/mcp', open.tenant.adminSecret, 'ping', undefined, { host: 'keys.example.com', origin: 'http://keys.example.com' });
    expect(named.status).toBe(200);
    expect((await open.rpc('/mcp', open.tenant.adminSecret, 'ping', undefined, { host: 'keys.example.com', origin: 'http://evil.example' })).status).toBe(403);
  });

  it('an unsupported MCP-Protocol-Version with 400', async () => {
    const answer = await w.rpc('/mcp', admin, 'ping', undefined, { 'mcp-protocol-version': '1999-01-01' });
    expect(answer.status).toBe(400);
    expect(bodyOf<Rpc>(answer).error?.message).toMatch(/MCP-Protocol-Version/);
    expect((await w.rpc('/mcp', admin, 'ping', undefined, { 'mcp-protocol-version': '2025-06-18' })).status).toBe(200);
  });

  it('a body that is not JSON: 415 for another content type, 400 -32700 for bad JSON', async () => {
    const typed = await w.ask('POST', '/mcp', { key: admin, body: '{}', headers: { 'content-type': 'text/plain' } });
    expect(typed.status).toBe(415);
    const broken = await w.ask('POST', '/mcp', { key: admin, body: '{"jsonrpc": "2.0", "id": 1,', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(bodyOf<Rpc>(broken)).toMatchObject({ id: null, error: { code: -32700 } });
    // A bad key is refused before a bad body is looked at.
    const both = await w.ask('POST', '/mcp', { body: '{', headers: { 'content-type': 'application/json' } });
    expect(both.status).toBe(401);
  });

  it('invalid JSON-RPC with its JSON-RPC error', async () => {
    const cases: Array<[unknown, number]> = [
      [{ id: 1, method: 'ping' }, -32600],
      [{ jsonrpc: '2.0', id: 1, method: 'no/such' }, -32601],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'nope' } }, -32602],
      [{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: [1] } }, -32602],
      [{ jsonrpc: '2.0', id: { x: 1 }, method: 'ping' }, -32600],
    ];
    for (const [message, code] of cases) {
      const answer = await w.ask('POST', '/mcp', { key: admin, body: message });
      expect(answer.status).toBe(200);
      expect(bodyOf<Rpc>(answer).error?.code).toBe(code);
    }
    expect((await w.ask('POST', '/mcp', { key: admin, body: [] })).status).toBe(400);
    expect(await remaining(admin)).toBe(100);
  });

  it('oversized and deeply nested arguments, and keeps serving', async () => {
    const small = await appWorld({ bodyLimit: 4096 });
    const key = small.tenant.adminSecret;
    const big = await small.rpc('/mcp', key, 'tools/call', { name: 'generate_key', arguments: { name: 'x'.repeat(5000) } });
    expect(big.status).toBe(413);
    expect(bodyOf<Rpc>(big).error).toMatchObject({ data: { type: 'PAYLOAD_TOO_LARGE' } });
    const nested = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'generate_key', arguments: { name: 'x', permissions: JSON.parse(`${'['.repeat(100)}${']'.repeat(100)}`) } } });
    const deep = await small.ask('POST', '/mcp', { key, body: nested, headers: { 'content-type': 'application/json' } });
    expect(deep.status).toBe(400);
    expect(bodyOf<Rpc>(deep).error?.code).toBe(-32600);
    const long = await small.rpc('/mcp', key, 'tools/call', { name: 'generate_key', arguments: { name: 'y'.repeat(1000) } });
    expect(JSON.parse((bodyOf<Rpc>(long).result as ToolResult).content[0]!.text)).toMatchObject({ error: { type: 'INVALID_REQUEST' } });
    expect((await small.rpc('/mcp', key, 'ping')).status).toBe(200);
    expect(small.count('keys')).toBe(1);
  });
});
