import { afterEach, describe, expect, it } from 'vitest';
import { type KeyApi, LocalKeyApi } from '../core/api.js';
import { LOCAL_IP } from '../core/auth.js';
import { DisperslError } from '../core/errors.js';
import { silentLogger } from '../core/log.js';
import { FakeKeyApi } from '../testing/fake-api.js';
import { type World, createWorld, credential } from '../testing/fixtures.js';
import { JSONRPC, LATEST_PROTOCOL_VERSION, McpDispatcher, SUPPORTED_PROTOCOL_VERSIONS } from './protocol.js';
import { createToolRunner } from './run-tool.js';

const READ_TOOLS = ['list_keys', 'get_key', 'whoami', 'get_usage', 'list_events'];
const ALL_TOOLS = ['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events'];

const dispatcher = new McpDispatcher({
  version: '9.9.9',
  logger: silentLogger,
  runner: async () => createToolRunner({ logger: silentLogger, missingKeyHint: 'set DISPERSL_API_KEY' }),
});

let w: World | undefined;
afterEach(async () => {
  w?.store.close();
  w = undefined;
});

/** One real database per test, created on first use. */
async function world(): Promise<World> {
  w ??= await createWorld();
  return w;
}

async function localApi(token: string | undefined): Promise<KeyApi> {
  const { gate, service } = await world();
  return new LocalKeyApi(gate, service, { token, ip: LOCAL_IP });
}

const fakeApi = (permissions?: readonly string[]) => new FakeKeyApi(async () => ({ ok: true }), permissions);

async function request(method: string, params?: unknown, api: KeyApi = fakeApi(), readOnly = false) {
  return dispatcher.handle({ jsonrpc: '2.0', id: 7, method, ...(params !== undefined && { params }) }, { api, readOnly });
}

async function result(method: string, params?: unknown, api?: KeyApi, readOnly = false): Promise<Record<string, unknown>> {
  const answer = await request(method, params, api, readOnly);
  if (!answer || !('result' in answer)) throw new Error(`expected a result, got ${JSON.stringify(answer)}`);
  return answer.result;
}

async function toolNames(api: KeyApi, readOnly = false): Promise<string[]> {
  return ((await result('tools/list', {}, api, readOnly)).tools as Array<{ name: string }>).map((t) => t.name);
}

/** The envelope an isError tool result carries as text. */
function envelopeOf(toolResult: Record<string, unknown>): { error: { code: number; type: string; message: string; details: Record<string, unknown> } } {
  expect(toolResult.isError).toBe(true);
  expect(toolResult.structuredContent).toBeUndefined();
  const [content] = toolResult.content as Array<{ type: string; text: string }>;
  expect(content?.type).toBe('text');
  return JSON.parse(content!.text);
}

describe('McpDispatcher: the session', () => {
  it('agrees on the protocol version the client asks for when it supports it, else offers its latest', async () => {
    for (const protocolVersion of SUPPORTED_PROTOCOL_VERSIONS) {
      expect(await result('initialize', { protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '1' } })).toMatchObject({ protocolVersion });
    }
    for (const protocolVersion of ['1999-01-01', undefined, 42]) {
      expect((await result('initialize', { protocolVersion })).protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
    }
    expect(await result('initialize', { protocolVersion: '2025-06-18' })).toMatchObject({
      serverInfo: { name: 'dispersl-mcp', version: '9.9.9' },
      capabilities: { tools: { listChanged: false } },
      instructions: expect.stringContaining('whoami'),
    });
  });

  it('answers ping with an empty result and keeps the request id', async () => {
    expect(await request('ping')).toEqual({ jsonrpc: '2.0', id: 7, result: {} });
    expect(await dispatcher.handle({ jsonrpc: '2.0', id: 'abc', method: 'ping' }, { api: fakeApi(), readOnly: false })).toMatchObject({ id: 'abc' });
  });

  it('gives no answer to notifications or to responses', async () => {
    const context = { api: fakeApi(), readOnly: false };
    for (const message of [
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } },
      { jsonrpc: '2.0', method: 'no/such/notification' },
      { jsonrpc: '2.0', id: 4, result: {} },
      { jsonrpc: '2.0', id: 5, error: { code: 1, message: 'x' } },
    ]) {
      expect(await dispatcher.handle(message, context), JSON.stringify(message)).toBeUndefined();
    }
  });

  it('answers -32601 for an unknown method', async () => {
    expect(await request('resources/list')).toEqual({ jsonrpc: '2.0', id: 7, error: { code: JSONRPC.METHOD_NOT_FOUND, message: expect.stringContaining('resources/list') } });
  });

  it('answers -32600 for messages that are not JSON-RPC 2.0 requests', async () => {
    const context = { api: fakeApi(), readOnly: false };
    const cases: Array<[unknown, string | number | null]> = [
      [5, null],
      [null, null],
      ['ping', null],
      [[], null],
      [{ id: 1, method: 'ping' }, 1],
      [{ jsonrpc: '1.0', id: 2, method: 'ping' }, 2],
      [{ jsonrpc: '2.0', id: 3, method: 42 }, 3],
      [{ jsonrpc: '2.0', id: { nested: true }, method: 'ping' }, null],
      [{ jsonrpc: '2.0', id: null, method: 'ping' }, null],
    ];
    for (const [message, id] of cases) {
      expect(await dispatcher.handle(message, context), JSON.stringify(message)).toMatchObject({ jsonrpc: '2.0', id, error: { code: JSONRPC.INVALID_REQUEST } });
    }
  });

  it('answers -32602 for params that are not an object', async () => {
    expect(await request('ping', [1, 2])).toMatchObject({ id: 7, error: { code: JSONRPC.INVALID_PARAMS } });
  });
});

describe('McpDispatcher: tools/list', () => {
  it('shows every tool to a caller that may write, or whose permissions are unknown', async () => {
    expect(await toolNames(fakeApi(['admin']))).toEqual(ALL_TOOLS);
    expect(await toolNames(fakeApi(['keys:write']))).toEqual(ALL_TOOLS);
    expect(await toolNames(fakeApi(undefined))).toEqual(ALL_TOOLS);
  });

  it('shows only the read tools in read-only mode and to a caller without keys:write', async () => {
    expect(await toolNames(fakeApi(['admin']), true)).toEqual(READ_TOOLS);
    expect(await toolNames(fakeApi(['keys:read']))).toEqual(READ_TOOLS);
    expect(await toolNames(fakeApi([]))).toEqual(READ_TOOLS);
  });

  it('describes each tool with schemas and annotations, and charges nothing', async () => {
    const token = (await world()).tenant.adminSecret;
    const admin = await localApi(token);
    const before = (await (await world()).gate.peek(credential(token))).window.remaining;
    for (let i = 0; i < 5; i++) {
      await result('initialize', {}, admin);
      await result('ping', {}, admin);
      const { tools } = await result('tools/list', {}, admin);
      for (const tool of tools as Array<Record<string, unknown>>) expect(tool).toMatchObject({ inputSchema: { type: 'object' }, outputSchema: { type: 'object' }, annotations: expect.any(Object) });
    }
    expect((await (await world()).gate.peek(credential(token))).window.remaining).toBe(before);
    expect(await toolNames(admin)).toEqual(ALL_TOOLS);
  });
});

describe('McpDispatcher: tools/call', () => {
  it('refuses an unknown tool, a write tool in read-only mode, and malformed params with -32602', async () => {
    const api = fakeApi(['admin']);
    expect(await request('tools/call', { name: 'delete_everything', arguments: {} }, api)).toMatchObject({ error: { code: JSONRPC.INVALID_PARAMS, message: expect.stringContaining('delete_everything') } });
    expect(await request('tools/call', { name: 'revoke_key', arguments: { id: 'key_x' } }, api, true)).toMatchObject({ error: { code: JSONRPC.INVALID_PARAMS, message: expect.stringContaining('read-only') } });
    expect(await request('tools/call', { arguments: {} }, api)).toMatchObject({ error: { code: JSONRPC.INVALID_PARAMS } });
    expect(await request('tools/call', { name: 'get_key', arguments: ['key_x'] }, api)).toMatchObject({ error: { code: JSONRPC.INVALID_PARAMS } });
    expect(api.calls).toEqual([]);
  });

  it('runs read tools in read-only mode', async () => {
    const api = fakeApi(['admin']);
    expect(await result('tools/call', { name: 'list_keys', arguments: { limit: 3 } }, api, true)).toMatchObject({ structuredContent: { ok: true } });
    expect(api.calls).toEqual([{ method: 'listKeys', input: { limit: 3 } }]);
  });

  it('returns a result as structured content and the same JSON as text', async () => {
    const admin = await localApi((await world()).tenant.adminSecret);
    const answer = await result('tools/call', { name: 'whoami', arguments: {} }, admin);
    expect(answer.isError).toBeUndefined();
    expect(answer.structuredContent).toMatchObject({ organization: { id: (await world()).tenant.org.id }, key: { id: (await world()).tenant.adminId } });
    expect(JSON.parse((answer.content as Array<{ text: string }>)[0]!.text)).toEqual(answer.structuredContent);
  });

  it('returns errors of the service as isError results carrying the envelope', async () => {
    const admin = await localApi((await world()).tenant.adminSecret);
    const notFound = envelopeOf(await result('tools/call', { name: 'get_key', arguments: { id: 'key_unknown' } }, admin));
    expect(notFound).toEqual({ error: { code: 404, type: 'NOT_FOUND', message: 'No key with this id', details: {} } });
    const invalid = envelopeOf(await result('tools/call', { name: 'generate_key', arguments: { name: '' } }, admin));
    expect(invalid.error).toMatchObject({ code: 400, type: 'INVALID_REQUEST', details: { issues: [expect.objectContaining({ path: 'name' })] } });
    const self = envelopeOf(await result('tools/call', { name: 'revoke_key', arguments: { id: (await world()).tenant.adminId } }, admin));
    expect(self.error).toMatchObject({ code: 409, type: 'CANNOT_REVOKE_SELF' });
  });

  it('answers MISSING_API_KEY with the hint, and a bad key at its first call', async () => {
    const missing = envelopeOf(await result('tools/call', { name: 'whoami', arguments: {} }, await localApi(undefined)));
    expect(missing.error).toMatchObject({ code: 401, type: 'MISSING_API_KEY', message: 'No Bearer token provided', details: { hint: 'set DISPERSL_API_KEY' } });
    const bad = envelopeOf(await result('tools/call', { name: 'list_keys', arguments: {} }, await localApi('pk_live_typo')));
    expect(bad.error).toMatchObject({ code: 401, type: 'INVALID_API_KEY' });
    expect(bad.error.details.hint).toBeUndefined();
  });

  it('lets a caller without keys:write call a write tool it cannot see, and answers INSUFFICIENT_PERMISSIONS', async () => {
    const reader = await (await world()).service.execute('generateKey', await (await world()).callerOf((await world()).tenant.adminSecret), { name: 'reader', permissions: ['keys:read'] });
    const api = await localApi(reader.secret);
    expect(await toolNames(api)).toEqual(READ_TOOLS);
    const refused = envelopeOf(await result('tools/call', { name: 'generate_key', arguments: { name: 'x' } }, api));
    expect(refused.error).toMatchObject({ code: 403, type: 'INSUFFICIENT_PERMISSIONS', details: { required: ['keys:write'] } });
  });

  it('turns anything unexpected into INTERNAL_ERROR without leaking it', async () => {
    const api = new FakeKeyApi(async () => {
      throw new Error('SQLITE_CORRUPT: SELECT hash FROM keys WHERE secret = pk_live_x');
    });
    const answer = envelopeOf(await result('tools/call', { name: 'whoami', arguments: {} }, api));
    expect(answer).toEqual({ error: { code: 500, type: 'INTERNAL_ERROR', message: 'Internal error', details: {} } });
    const typed = new FakeKeyApi(async () => {
      throw new DisperslError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded', { retry_after: 12 });
    });
    expect(envelopeOf(await result('tools/call', { name: 'whoami' }, typed)).error).toMatchObject({ code: 429, details: { retry_after: 12 } });
  });
});
