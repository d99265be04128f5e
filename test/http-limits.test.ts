import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROUTES } from '../src/http/routes/index.js';
import { type HttpAnswer, type Served, errorType, httpClient, raw, rest, serve, stopAll, tool } from './helpers/http-serve.js';
import { Sessions } from './helpers/mcp-client.js';
import { type Sandbox, awayFromHourEdge, init, sandbox } from './helpers/sandbox.js';

let box: Sandbox;
const sessions = new Sessions();
beforeEach(() => {
  box = sandbox();
});
afterEach(async () => {
  await sessions.closeAll();
  await stopAll();
  box.remove();
});

async function createKey(server: Served, admin: string, fields: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const answer = await rest(server.url, 'POST', '/v1/api-keys', { key: admin, body: { name: 'made by a test', ...fields } });
  if (answer.status !== 201) throw new Error(`could not create a key: ${answer.text}`);
  const body = answer.json as { id: string; secret_key: string };
  return { id: body.id, secret: body.secret_key };
}

const remainingOf = (answer: HttpAnswer) => Number(answer.headers.get('x-ratelimit-remaining'));

describe('one quota for REST, MCP over HTTP and MCP over stdio', () => {
  it('charges every transport against the same hourly count, then answers 429 everywhere', async () => {
    await awayFromHourEdge();
    const admin = await init(box);
    const server = await serve(box);
    // A test key of the free plan: 10 requests an hour.
    const k = await createKey(server, admin.secret, { environment: 'test' });

    const viaRest: number[] = [];
    for (let i = 0; i < 3; i++) viaRest.push(remainingOf(await rest(server.url, 'GET', '/v1/me', { key: k.secret })));
    expect(viaRest).toEqual([9, 8, 7]);

    const http = await httpClient(`${server.url}/ot/${k.secret}`);
    await http.listTools();
    const viaHttp: number[] = [];
    for (let i = 0; i < 3; i++) viaHttp.push(((await tool(http, 'whoami')).data as { limits: { hourly: { remaining: number } } }).limits.hourly.remaining);
    expect(viaHttp).toEqual([6, 5, 4]);

    const stdio = await sessions.connect(box, { key: k.secret });
    const viaStdio: number[] = [];
    for (let i = 0; i < 3; i++) viaStdio.push(((await stdio.ok('whoami')) as { limits: { hourly: { remaining: number } } }).limits.hourly.remaining);
    expect(viaStdio).toEqual([3, 2, 1]);

    const last = await rest(server.url, 'GET', '/v1/keys', { key: k.secret });
    expect(last.status).toBe(200);
    expect(remainingOf(last)).toBe(0);

    const refused = await rest(server.url, 'GET', '/v1/me', { key: k.secret });
    expect(refused.status).toBe(429);
    expect(errorType(refused)).toBe('RATE_LIMIT_EXCEEDED');
    const details = (refused.json as { error: { details: { retry_after: number; reset_at: string } } }).error.details;
    expect(Number(refused.headers.get('retry-after'))).toBe(details.retry_after);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('10');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('x-ratelimit-reset')) * 1000).toBe(Date.parse(details.reset_at));
    expect(refused.headers.get('ratelimit-policy')).toBe('"hourly";q=10;w=3600');
    expect(refused.headers.get('ratelimit')).toMatch(/^"hourly";r=0;t=\d+$/);

    expect(await tool(http, 'whoami')).toMatchObject({ ok: false, data: { type: 'RATE_LIMIT_EXCEEDED', code: 429 } });
    expect((await stdio.fail('whoami')).type).toBe('RATE_LIMIT_EXCEEDED');
    // initialize and tools/list stay free, so a client can still connect and learn why.
    expect((await http.listTools()).tools.length).toBe(9);
    await http.close();
  });
});

describe('changes made elsewhere', () => {
  it('sees a key revoked or disabled through a stdio process on the very next HTTP request', async () => {
    const admin = await init(box);
    const server = await serve(box);
    const revoked = await createKey(server, admin.secret, {});
    const disabled = await createKey(server, admin.secret, {});
    expect((await rest(server.url, 'GET', '/v1/me', { key: revoked.secret })).status).toBe(200);
    const viaPath = await httpClient(`${server.url}/ot/${revoked.secret}`);

    const stdio = await sessions.connect(box, { key: admin.secret });
    expect(await stdio.ok('revoke_key', { id: revoked.id })).toMatchObject({ is_revoked: true });
    expect(await stdio.ok('update_key', { id: disabled.id, enabled: false })).toMatchObject({ enabled: false });

    const rejected = await rest(server.url, 'GET', '/v1/me', { key: revoked.secret });
    expect(rejected.status).toBe(401);
    expect(errorType(rejected)).toBe('REVOKED_API_KEY');
    await expect(viaPath.listTools()).rejects.toThrow(/401/);
    expect(errorType(await rest(server.url, 'GET', '/v1/keys', { key: disabled.secret }))).toBe('DISABLED_API_KEY');
    const mcp = await rest(server.url, 'POST', '/mcp', { key: disabled.secret, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } });
    expect(mcp.status).toBe(401);
    expect(mcp.json).toMatchObject({ error: { data: { type: 'DISABLED_API_KEY' } } });
  });

  it('refuses a key once it has expired, over REST and MCP', async () => {
    const admin = await init(box);
    const server = await serve(box);
    // The server keeps real time: the key expires a few seconds from now, enough for a busy machine
    // to create and use it first, and the test then waits (bounded) for that moment to pass.
    const expiresAt = new Date(Date.now() + 4_000).toISOString();
    const k = await createKey(server, admin.secret, { expires_at: expiresAt });
    expect((await rest(server.url, 'GET', '/v1/me', { key: k.secret })).status).toBe(200);
    let answer = await rest(server.url, 'GET', '/v1/me', { key: k.secret });
    const giveUp = Date.parse(expiresAt) + 20_000;
    while (answer.status === 200 && Date.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await rest(server.url, 'GET', '/v1/me', { key: k.secret });
    }
    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ error: { type: 'EXPIRED_API_KEY', details: { expired_at: expiresAt } } });
    const mcp = await rest(server.url, 'POST', `/ot/${k.secret}`, { body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami' } } });
    expect(mcp.status).toBe(401);
    expect(mcp.json).toMatchObject({ error: { data: { type: 'EXPIRED_API_KEY' } } });
  });
});

describe('IP allowlists over real connections', () => {
  it('checks the peer address against IPv4 ranges and ignores X-Forwarded-For', async () => {
    const admin = await init(box);
    const server = await serve(box);
    const loopback = await createKey(server, admin.secret, { allowed_ips: ['127.0.0.0/8'] });
    const exact = await createKey(server, admin.secret, { allowed_ips: ['127.0.0.1'] });
    const elsewhere = await createKey(server, admin.secret, { allowed_ips: ['10.0.0.0/8', '2001:db8::/32'] });
    const v6only = await createKey(server, admin.secret, { allowed_ips: ['::1/128'] });
    expect((await rest(server.url, 'GET', '/v1/me', { key: loopback.secret })).status).toBe(200);
    expect((await rest(server.url, 'GET', '/v1/me', { key: exact.secret })).status).toBe(200);
    const refused = await rest(server.url, 'GET', '/v1/me', { key: elsewhere.secret, headers: { 'x-forwarded-for': '10.1.2.3', 'x-real-ip': '10.1.2.3' } });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ error: { type: 'IP_NOT_ALLOWED', details: { ip: '127.0.0.1' } } });
    expect(errorType(await rest(server.url, 'GET', '/v1/me', { key: v6only.secret }))).toBe('IP_NOT_ALLOWED');
    const mcp = await rest(server.url, 'POST', '/mcp', { key: elsewhere.secret, body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} } });
    expect(mcp.status).toBe(403);
  });

  it('checks the peer address against IPv6 ranges on a server bound to ::1', async () => {
    const admin = await init(box);
    const server = await serve(box, { host: '::1' });
    expect(server.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
    const v6 = await createKey(server, admin.secret, { allowed_ips: ['::1/128'] });
    const v6range = await createKey(server, admin.secret, { allowed_ips: ['::/64'] });
    const doc = await createKey(server, admin.secret, { allowed_ips: ['2001:db8::/32'] });
    const v4 = await createKey(server, admin.secret, { allowed_ips: ['127.0.0.1'] });
    expect((await rest(server.url, 'GET', '/v1/me', { key: v6.secret })).status).toBe(200);
    expect((await rest(server.url, 'GET', '/v1/me', { key: v6range.secret })).status).toBe(200);
    const refused = await rest(server.url, 'GET', '/v1/me', { key: doc.secret });
    expect(refused.json).toMatchObject({ error: { type: 'IP_NOT_ALLOWED', details: { ip: '::1' } } });
    expect(errorType(await rest(server.url, 'GET', '/v1/me', { key: v4.secret }))).toBe('IP_NOT_ALLOWED');
    // Bound to ::1, the Host check still knows its loopback names.
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const headers = { authorization: `Bearer ${admin.secret}`, 'content-type': 'application/json' };
    expect((await raw(server.url, 'POST', '/mcp', headers, ping)).status).toBe(200);
  });
});

describe('tenant isolation', () => {
  it("answers another organization's key id with 404 on every route that names a key, over REST and MCP", async () => {
    const a = await init(box, ['--org', 'A']);
    const b = await init(box, ['--org', 'B']);
    const server = await serve(box);
    const victim = await createKey(server, a.secret, { name: 'victim' });

    for (const route of ROUTES.filter((r) => r.path.startsWith('/v1/keys/:id'))) {
      const body = route.method === 'PATCH' ? { name: 'taken over' } : route.method === 'POST' ? { grace_period_seconds: 0 } : undefined;
      const answer = await rest(server.url, route.method, route.path.replace(':id', victim.id), { key: b.secret, body });
      expect(answer.status, `${route.method} ${route.path}`).toBe(404);
      expect(answer.json).toEqual({ error: { code: 404, type: 'NOT_FOUND', message: 'No key with this id', details: {} } });
    }
    const listed = await rest(server.url, 'GET', '/v1/keys?include_revoked=true', { key: b.secret });
    expect((listed.json as { apiKeys: Array<{ id: string }> }).apiKeys.map((k) => k.id)).toEqual([b.keyId]);
    expect((await rest(server.url, 'GET', '/v1/me', { key: b.secret })).json).toMatchObject({ organization: { id: b.orgId, name: 'B' } });
    const crossed = await rest(server.url, 'GET', '/v1/keys', { key: b.secret, headers: { 'x-organization-id': a.orgId } });
    expect(crossed.status).toBe(403);
    expect(errorType(crossed)).toBe('ORGANIZATION_FORBIDDEN');
    const own = await rest(server.url, 'GET', '/v1/keys', { headers: { 'x-api-key': b.secret, 'x-organization-id': b.orgId } });
    expect(own.status).toBe(200);

    const http = await httpClient(`${server.url}/mcp`, b.secret);
    for (const [name, args] of [
      ['get_key', { id: victim.id }],
      ['update_key', { id: victim.id, enabled: false }],
      ['rotate_key', { id: victim.id, grace_period_seconds: 0 }],
      ['revoke_key', { id: victim.id }],
    ] as const) {
      expect(await tool(http, name, args), name).toMatchObject({ ok: false, data: { type: 'NOT_FOUND' } });
    }
    expect(((await tool(http, 'list_keys', { include_revoked: true })).data as { keys: Array<{ id: string }> }).keys.map((k) => k.id)).toEqual([b.keyId]);
    await http.close();

    const untouched = await rest(server.url, 'GET', `/v1/keys/${victim.id}`, { key: a.secret });
    expect(untouched.json).toMatchObject({ id: victim.id, name: 'victim', enabled: true, is_revoked: false, rotated_to: null });
    expect((await rest(server.url, 'GET', '/v1/me', { key: victim.secret })).status).toBe(200);
  });
});
