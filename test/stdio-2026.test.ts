import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Served, serve, stopAll } from './helpers/http-serve.js';
import { BIN, type Sandbox, init, sandbox } from './helpers/sandbox.js';
import { specIssues } from './helpers/spec.js';

/**
 * Both protocol eras through the SDK v2 client (`@modelcontextprotocol/client`): over stdio (local
 * and remote mode) the era is the connection's, over HTTP the request's. Raw stdio covers what a
 * client of one era sends on a connection pinned to the other.
 */

const V = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {} };
type Mode = 'legacy' | 'auto' | { pin: string };

let box: Sandbox;
let key: string;
const clients: Client[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

beforeEach(async () => {
  box = sandbox();
  key = (await init(box, ['--plan', 'pro'])).secret;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await stopAll();
  box.remove();
});

async function connect(mode: Mode, transport: StdioClientTransport | StreamableHTTPClientTransport): Promise<Client> {
  const client = new Client({ name: 'dispersl-e2e-v2', version: '1.0.0' }, { versionNegotiation: { mode } });
  clients.push(client);
  await client.connect(transport);
  return client;
}

function stdioTransport(env: Record<string, string | undefined> = {}): StdioClientTransport {
  return new StdioClientTransport({ command: process.execPath, args: [BIN], env: box.env({ DISPERSL_API_KEY: key, ...env }), stderr: 'ignore' });
}

/** What a client of either era should see of this server. */
async function expectWorking(client: Client, era: 'modern' | 'legacy', tools = 9): Promise<void> {
  expect(client.getNegotiatedProtocolVersion()).toBe(era === 'modern' ? V : '2025-11-25');
  const listed = await client.listTools();
  expect(listed.tools.map((t) => t.name)).toHaveLength(tools);
  expect(listed.tools.every((t) => typeof t.title === 'string')).toBe(true);
  if (era === 'modern') expect(listed).toMatchObject({ ttlMs: 60000, cacheScope: 'private' });
  else expect(listed.ttlMs).toBeUndefined();
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  expect(result.isError).toBeFalsy();
  expect(result.structuredContent).toMatchObject({ organization: { plan: 'pro' }, key: { start: key.slice(0, 12) } });
}

describe('the SDK v2 client', () => {
  it('speaks 2026-07-28 over stdio when pinned to it', async () => {
    await expectWorking(await connect({ pin: V }, stdioTransport()), 'modern');
  });

  it('speaks 2025-11-25 over stdio in legacy mode', async () => {
    await expectWorking(await connect('legacy', stdioTransport()), 'legacy');
  });

  it('chooses 2026-07-28 over stdio in auto mode', async () => {
    await expectWorking(await connect('auto', stdioTransport({ DISPERSL_READ_ONLY: '1' })), 'modern', 5);
  });

  it('speaks both eras over stdio in remote mode', async () => {
    const served: Served = await serve(box);
    const remote = { DISPERSL_BASE_URL: `${served.url}/v1`, DISPERSL_DB: `${box.dir}/untouched.db` };
    await expectWorking(await connect({ pin: V }, stdioTransport(remote)), 'modern');
    await expectWorking(await connect('legacy', stdioTransport(remote)), 'legacy');
  });

  it('speaks both eras over HTTP on /mcp and /ot/<key>', async () => {
    const served = await serve(box);
    for (const mode of [{ pin: V }, 'legacy'] as const) {
      const era = mode === 'legacy' ? 'legacy' : 'modern';
      await expectWorking(await connect(mode, new StreamableHTTPClientTransport(new URL(`${served.url}/ot/${key}`))), era);
      const headers = { Authorization: `Bearer ${key}` };
      await expectWorking(await connect(mode, new StreamableHTTPClientTransport(new URL(`${served.url}/mcp/readonly`), { requestInit: { headers } })), era, 5);
    }
  });
});

/** A stdio server spoken to line by line; every line it writes is checked against the SDK's message schema. */
function rawStdio(): { send(message: unknown): void; next(): Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, [BIN], { env: box.env({ DISPERSL_API_KEY: key }), stdio: 'pipe' });
  children.push(child);
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let buffer = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl = buffer.indexOf('\n');
    while (nl !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
      nl = buffer.indexOf('\n');
    }
  });
  return {
    send: (message) => child.stdin.write(`${JSON.stringify(message)}\n`),
    async next() {
      const line = lines.shift() ?? (await new Promise<string>((resolve) => waiting.push(resolve)));
      const message = JSON.parse(line) as Record<string, unknown>;
      expect(specIssues('JSONRPCMessage', message), line).toBeUndefined();
      expect(message.id, line).not.toBeNull();
      return message;
    },
  };
}

const INIT = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } };

describe('one stdio connection, one era', () => {
  it('answers a 2026-07-28 request after initialize with -32022 naming the negotiated revision', async () => {
    const s = rawStdio();
    s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT });
    expect(await s.next()).toMatchObject({ id: 1, result: { protocolVersion: '2025-06-18' } });
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: META } });
    expect(await s.next()).toEqual({
      jsonrpc: '2.0',
      id: 2,
      error: { code: -32022, message: expect.stringContaining('2025-06-18'), data: { supported: ['2025-06-18'], requested: V } },
    });
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    expect(await s.next()).toMatchObject({ id: 3, result: { tools: expect.any(Array) } });
  });

  it('answers initialize, or a request without _meta, after a 2026-07-28 request with the revision errors', async () => {
    const s = rawStdio();
    s.send({ jsonrpc: '2.0', id: 'a', method: 'tools/list', params: { _meta: META } });
    expect(await s.next()).toMatchObject({ id: 'a', result: { resultType: 'complete', cacheScope: 'private' } });
    s.send({ jsonrpc: '2.0', id: 'b', method: 'initialize', params: INIT });
    expect(await s.next()).toMatchObject({ id: 'b', error: { code: -32022, data: { supported: [V], requested: '2025-06-18' } } });
    s.send({ jsonrpc: '2.0', id: 'c', method: 'tools/list' });
    expect(await s.next()).toMatchObject({ id: 'c', error: { code: -32602 } });
    s.send({ jsonrpc: '2.0', id: 'd', method: 'ping', params: { _meta: META } });
    expect(await s.next()).toMatchObject({ id: 'd', error: { code: -32601 } });
  });

  it('lets server/discover probe without pinning the connection', async () => {
    const s = rawStdio();
    s.send({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: META } });
    expect(await s.next()).toMatchObject({ id: 1, result: { supportedVersions: expect.arrayContaining([V, '2025-11-25']) } });
    s.send({ jsonrpc: '2.0', id: 2, method: 'initialize', params: INIT });
    expect(await s.next()).toMatchObject({ id: 2, result: { protocolVersion: '2025-06-18' } });
  });

  it('answers _meta of the wrong types, a version it does not speak, and a forged requestState with the revision errors', async () => {
    const s = rawStdio();
    s.send({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...META, 'io.modelcontextprotocol/clientCapabilities': 'all' } } });
    expect(await s.next()).toMatchObject({ id: 1, error: { code: -32602, data: { envelope: { key: 'io.modelcontextprotocol/clientCapabilities' } } } });
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: { ...META, 'io.modelcontextprotocol/protocolVersion': '2030-01-01' } } });
    expect(await s.next()).toMatchObject({ id: 2, error: { code: -32022, data: { requested: '2030-01-01' } } });
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { _meta: META, name: 'whoami', arguments: {}, requestState: 'AQ' + 'x'.repeat(80) } });
    expect(await s.next()).toMatchObject({ id: 3, error: { code: -32602, data: { type: 'INVALID_REQUEST' } } });
    s.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { _meta: META, name: 'whoami', arguments: {} } });
    expect(await s.next()).toMatchObject({ id: 4, result: { resultType: 'complete', structuredContent: { key: { start: key.slice(0, 12) } } } });
  });
});
