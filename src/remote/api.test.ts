import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DisperslError } from '../core/errors.js';
import { type LogFields, createLogger } from '../core/log.js';
import type { KeyView } from '../core/schemas.js';
import { KeyService } from '../core/service.js';
import { RemoteKeyApi } from './api.js';

const KEY = 'pk_test_remoteUnitTestKey0000000000';

const view = (id: string): KeyView => ({
  id,
  name: 'CI',
  environment: 'test',
  start: 'pk_test_abcd',
  permissions: ['keys:read'],
  allowed_ips: [],
  expires_at: null,
  enabled: true,
  is_revoked: false,
  revoked_at: null,
  rate_limit: null,
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
  last_used_at: null,
  rotated_from: null,
  rotated_to: null,
});

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
  socket: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Server[] = [];
const apis: RemoteKeyApi[] = [];

/** A stand-in server on loopback that records what it is sent and answers with `handler`. */
async function fake(handler: Handler): Promise<{ base: string; seen: Seen[]; connections: () => number }> {
  const seen: Seen[] = [];
  const sockets = new WeakMap<object, number>();
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body, socket: sockets.get(req.socket) ?? -1 });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket) => sockets.set(socket, ++connections));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen, connections: () => connections };
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
};

function remote(base: string, options: { apiKey?: string | undefined; timeoutMs?: number; warnings?: LogFields[] } = {}): RemoteKeyApi {
  const logger = createLogger('warn', (line) => options.warnings?.push(JSON.parse(line) as LogFields));
  const api = new RemoteKeyApi({ baseUrl: base, apiKey: 'apiKey' in options ? options.apiKey : KEY, logger, timeoutMs: options.timeoutMs ?? 5_000 });
  apis.push(api);
  return api;
}

async function failure(promise: Promise<unknown>): Promise<DisperslError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DisperslError);
  return err as DisperslError;
}

afterEach(async () => {
  for (const api of apis.splice(0)) api.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve).closeAllConnections())));
});

describe('RemoteKeyApi results', () => {
  it('lists keys through GET /keys with the Bearer key and maps apiKeys back to keys', async () => {
    const server = await fake((_req, res) => json(res, 200, { apiKeys: [view('key_a')], next_cursor: 'c2' }));
    const list = await remote(server.base).call('listKeys', { limit: 5, cursor: 'abc', include_revoked: true });
    expect(JSON.stringify(list)).toBe(JSON.stringify({ keys: [view('key_a')], next_cursor: 'c2' }));
    expect(server.seen[0]).toMatchObject({ method: 'GET', authorization: `Bearer ${KEY}` });
    const url = new URL(server.seen[0]!.url, 'http://x');
    expect(url.pathname).toBe('/v1/keys');
    expect(Object.fromEntries(url.searchParams)).toEqual({ limit: '5', include_revoked: 'true', cursor: 'abc' });
  });

  it('turns POST /api-keys into the {key, secret} of generate_key, key fields in their order', async () => {
    const server = await fake((_req, res) => json(res, 201, { ...view('key_new'), object: 'api_key', secret_key: 'pk_test_secret' }));
    const created = await remote(server.base).call('generateKey', { name: 'CI', permissions: ['keys:read'] });
    expect(JSON.stringify(created)).toBe(JSON.stringify({ key: view('key_new'), secret: 'pk_test_secret' }));
    expect(server.seen[0]).toMatchObject({ method: 'POST', url: '/v1/api-keys' });
    expect(JSON.parse(server.seen[0]!.body)).toEqual({ name: 'CI', permissions: ['keys:read'] });
  });

  it('sends rotate and update arguments as the JSON body and the id in the path', async () => {
    const server = await fake((req, res) =>
      req.method === 'POST' ? json(res, 200, { key: view('key_b'), secret: 'pk_test_s', previous: view('key_a') }) : json(res, 200, view('key_a')),
    );
    const api = remote(server.base);
    const rotated = await api.call('rotateKey', { id: 'key_a', grace_period_seconds: 0 });
    expect(rotated).toEqual({ key: view('key_b'), secret: 'pk_test_s', previous: view('key_a') });
    await api.call('updateKey', { id: 'key_a', enabled: false });
    expect(server.seen.map((s) => [s.method, s.url, JSON.parse(s.body)])).toEqual([
      ['POST', '/v1/keys/key_a/rotate', { grace_period_seconds: 0 }],
      ['PATCH', '/v1/keys/key_a', { enabled: false }],
    ]);
  });

  it('puts a key id into the URL as one encoded segment, dots included', async () => {
    const server = await fake((_req, res) => json(res, 400, new DisperslError('INVALID_REQUEST', 'id: must be a key id like key_…').toEnvelope()));
    await failure(remote(server.base).call('rotateKey', { id: '../../me?x=1#' }));
    expect(server.seen[0]?.url).toBe('/v1/keys/%2E%2E%2F%2E%2E%2Fme%3Fx%3D1%23/rotate');
  });

  it('reads whoami from GET /me and revokes with DELETE', async () => {
    const whoami = {
      organization: { id: 'org_1', name: 'Acme', plan: 'free' },
      key: view('key_a'),
      limits: { hourly: { limit: 100, remaining: 99, reset_at: '2026-01-01T01:00:00.000Z' }, concurrency: { limit: 2, in_flight: 1 } },
    };
    const server = await fake((req, res) => json(res, 200, req.method === 'DELETE' ? { ...view('key_b'), is_revoked: true } : whoami));
    const api = remote(server.base);
    expect(await api.call('whoami')).toEqual(whoami);
    expect((await api.call('revokeKey', { id: 'key_b' })).is_revoked).toBe(true);
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /v1/me', 'DELETE /v1/keys/key_b']);
  });

  it('reuses one connection for consecutive calls', async () => {
    const server = await fake((_req, res) => json(res, 200, view('key_a')));
    const api = remote(server.base);
    for (let i = 0; i < 5; i++) await api.call('getKey', { id: 'key_a' });
    expect(server.connections()).toBe(1);
  });
});

describe('RemoteKeyApi errors', () => {
  it("gives back the server's 429 envelope unchanged, retry_after included", async () => {
    const envelope = new DisperslError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded', { remaining: 0, reset_at: '2026-01-01T01:00:00.000Z', retry_after: 1234 }).toEnvelope();
    const server = await fake((_req, res) => {
      res.setHeader('retry-after', '1234');
      json(res, 429, envelope);
    });
    const err = await failure(remote(server.base).call('whoami'));
    expect(err.toEnvelope()).toEqual(envelope);
  });

  it.each([
    ['REVOKED_API_KEY', 401],
    ['INSUFFICIENT_PERMISSIONS', 403],
    ['NOT_FOUND', 404],
  ] as const)('gives back %s as the server sent it', async (type, status) => {
    const envelope = new DisperslError(type, `server says ${type}`, { required: ['keys:write'] }).toEnvelope();
    const server = await fake((_req, res) => json(res, status, envelope));
    const err = await failure(remote(server.base).call('getKey', { id: 'key_a' }));
    expect(err.toEnvelope()).toEqual(envelope);
  });

  it('checks URL-borne arguments with the local schema, giving the error local mode gives, and sends nothing', async () => {
    const server = await fake((_req, res) => json(res, 200, {}));
    const api = remote(server.base);
    const local = new KeyService({} as never);
    const caller = { key: { permissions: ['admin'] } } as never;
    const expected = await (async () => {
      try {
        await local.execute('listKeys', caller, { limit: 'many', extra: 1 });
      } catch (e) {
        return (e as DisperslError).toEnvelope();
      }
    })();
    expect(expected?.error.type).toBe('INVALID_REQUEST');
    expect((await failure(api.call('listKeys', { limit: 'many', extra: 1 }))).toEnvelope()).toEqual(expected);
    expect((await failure(api.call('getKey', {}))).type).toBe('INVALID_REQUEST');
    expect((await failure(api.call('rotateKey', { id: 7 }))).type).toBe('INVALID_REQUEST');
    expect(server.seen).toHaveLength(0);
  });

  it('answers MISSING_API_KEY without a key, sending nothing', async () => {
    const server = await fake((_req, res) => json(res, 200, {}));
    expect((await failure(remote(server.base, { apiKey: undefined }).call('whoami'))).type).toBe('MISSING_API_KEY');
    expect(server.seen).toHaveLength(0);
  });

  it('names the URL when nothing listens there', async () => {
    const server = await fake(() => {});
    const base = server.base;
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const err = await failure(remote(base).call('whoami'));
    expect(err.type).toBe('INTERNAL_ERROR');
    expect(err.message).toContain(base);
    expect(err.details).toMatchObject({ base_url: base, reason: 'connection_refused', request: 'GET /v1/me' });
  });

  it('gives up after the timeout when the server never answers', async () => {
    const server = await fake(() => {});
    const err = await failure(remote(server.base, { timeoutMs: 200 }).call('whoami'));
    expect(err.details).toMatchObject({ reason: 'timeout' });
    expect(err.message).toContain(server.base);
    expect(err.message).toContain('200 ms');
  });

  it('gives up after the timeout when the answer stalls half-way', async () => {
    const server = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":');
    });
    const err = await failure(remote(server.base, { timeoutMs: 200 }).call('getKey', { id: 'key_a' }));
    expect(err.details).toMatchObject({ reason: 'timeout' });
  });

  it('names the URL when the answer is not JSON', async () => {
    const server = await fake((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    const err = await failure(remote(server.base).call('whoami'));
    expect(err).toMatchObject({ type: 'INTERNAL_ERROR', details: { reason: 'not_json', status: 200, base_url: server.base } });
    expect(err.message).toContain(server.base);
  });

  it('refuses JSON that is not what the contract returns', async () => {
    const server = await fake((_req, res) => json(res, 200, { hello: 'world' }));
    expect((await failure(remote(server.base).call('listKeys', {}))).details).toMatchObject({ reason: 'unexpected_answer' });
  });

  it('refuses an error status without our envelope', async () => {
    const server = await fake((_req, res) => json(res, 502, { message: 'bad gateway' }));
    expect((await failure(remote(server.base).call('whoami'))).details).toMatchObject({ reason: 'unexpected_answer', status: 502 });
  });

  it('refuses an answer too large to be ours', async () => {
    const server = await fake((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(9 * 1024 * 1024, 0x20));
    });
    expect((await failure(remote(server.base).call('whoami'))).details).toMatchObject({ reason: 'too_large' });
  });

  it('follows no redirect, so the key never reaches another origin', async () => {
    const elsewhere = await fake((_req, res) => json(res, 200, {}));
    const server = await fake((_req, res) => res.writeHead(307, { location: `${elsewhere.base}/me` }).end());
    const err = await failure(remote(server.base).call('whoami'));
    expect(err.details).toMatchObject({ reason: 'redirect', status: 307 });
    expect(elsewhere.seen).toHaveLength(0);
  });
});

describe('RemoteKeyApi set-up', () => {
  it('warns once for plain http to another machine, and not for loopback or https', () => {
    const warnings: LogFields[] = [];
    remote('http://keys.example.com/v1', { warnings });
    remote('http://localhost:8787/v1', { warnings });
    remote('https://keys.example.com/v1', { warnings });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', base_url: 'http://keys.example.com/v1' });
    expect(JSON.stringify(warnings)).not.toContain(KEY);
  });

  it("learns the key's tools from the server's free MCP tools/list", async () => {
    const tools = (names: string[]) => ({ jsonrpc: '2.0', id: 1, result: { tools: names.map((name) => ({ name })) } });
    const reader = await fake((_req, res) => json(res, 200, tools(['list_keys', 'get_key', 'whoami'])));
    const writer = await fake((_req, res) => json(res, 200, tools(['list_keys', 'generate_key'])));
    const refusing = await fake((_req, res) => json(res, 401, new DisperslError('INVALID_API_KEY').toEnvelope()));
    expect(await remote(reader.base).permissions()).toEqual(['keys:read']);
    expect(reader.seen[0]).toMatchObject({ method: 'POST', url: '/mcp', authorization: `Bearer ${KEY}` });
    expect(JSON.parse(reader.seen[0]!.body)).toMatchObject({ method: 'tools/list' });
    expect(await remote(writer.base).permissions()).toEqual(['keys:write']);
    expect(await remote(refusing.base).permissions()).toBeUndefined();
    expect(await remote(reader.base, { apiKey: undefined }).permissions()).toBeUndefined();
  });
});
