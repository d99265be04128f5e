import { describe, expect, it } from 'vitest';
import { type HttpAnswer, errorType, httpClient, raw, rawUpload, rest, serve, sandboxEachTest, tool } from './helpers/http-serve.js';
import { init } from './helpers/sandbox.js';

const ALL = ['list_keys', 'get_key', 'generate_key', 'revoke_key', 'rotate_key', 'update_key', 'whoami', 'get_usage', 'list_events'];
const READ = ['list_keys', 'get_key', 'whoami', 'get_usage', 'list_events'];

const box = sandboxEachTest();

describe('dispersl-mcp serve', () => {
  it('bootstraps an empty database once, printing the key with Cursor config for this port', async () => {
    const first = await serve(box());
    const out = first.stdout();
    const secret = /^ {2}(pk_live_[0-9A-Za-z]+)$/m.exec(out)?.[1];
    expect(secret).toBeDefined();
    expect(out).toContain(`"url": "${first.url}/ot/${secret}"`);
    expect(out).toContain(`"url": "${first.url}/mcp"`);
    expect(out).toContain(`"Authorization": "Bearer ${secret}"`);
    expect(first.stderr()).not.toContain(secret!);
    const me = await rest(first.url, 'GET', '/v1/me', { key: secret });
    expect(me.json).toMatchObject({ organization: { name: 'My organization', plan: 'free' }, key: { permissions: ['admin'] } });
    expect(await first.stop()).toEqual({ code: 0, signal: null });

    const second = await serve(box());
    expect(second.stdout()).toBe('');
    expect((await rest(second.url, 'GET', '/v1/keys', { key: secret })).json).toMatchObject({ apiKeys: [{ name: 'Admin key' }] });
  });

  it('serves the SDK client over Streamable HTTP on /mcp (header) and /ot/<key> (path)', async () => {
    const admin = await init(box());
    const server = await serve(box());
    const viaHeader = await httpClient(`${server.url}/mcp`, admin.secret);
    expect((await viaHeader.listTools()).tools.map((t) => t.name)).toEqual(ALL);
    expect(await tool(viaHeader, 'whoami')).toMatchObject({ ok: true, data: { organization: { id: admin.orgId }, key: { id: admin.keyId } } });
    const created = await tool(viaHeader, 'generate_key', { name: 'for Cursor', permissions: ['keys:read'] });
    expect(created.ok).toBe(true);
    const secret = created.data.secret as string;

    const viaPath = await httpClient(`${server.url}/ot/${secret}`);
    expect((await viaPath.listTools()).tools.map((t) => t.name)).toEqual(READ);
    expect(await tool(viaPath, 'whoami')).toMatchObject({ ok: true, data: { key: { name: 'for Cursor' } } });
    const listed = await tool(viaPath, 'list_keys');
    expect(JSON.stringify(listed)).not.toContain(secret);

    const readOnly = await httpClient(`${server.url}/ot/${admin.secret}/readonly`);
    expect((await readOnly.listTools()).tools.map((t) => t.name)).toEqual(READ);
    const headerReadOnly = await httpClient(`${server.url}/mcp/readonly`, admin.secret);
    expect((await headerReadOnly.listTools()).tools.map((t) => t.name)).toEqual(READ);
    await Promise.all([viaHeader.close(), viaPath.close(), readOnly.close(), headerReadOnly.close()]);

    const access = server.logs().filter((l) => l.msg === 'request');
    expect(access.some((l) => l.path === '/ot/[redacted]' && l.key === secret.slice(0, 12))).toBe(true);
    expect(server.stderr()).not.toContain(secret);
    expect(server.stderr()).not.toContain(admin.secret);
  });

  it('refuses the SDK client with HTTP 401 and WWW-Authenticate for a missing or wrong key', async () => {
    const admin = await init(box());
    const server = await serve(box());
    await expect(httpClient(`${server.url}/mcp`)).rejects.toThrow(/401/);
    const mistyped = admin.secret.slice(0, -1) + (admin.secret.endsWith('x') ? 'y' : 'x');
    await expect(httpClient(`${server.url}/ot/${mistyped}`)).rejects.toThrow(/401/);
    const answer = await rest(server.url, 'POST', '/mcp', { body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: {} } });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="dispersl"/);
  });

  it("refuses a foreign Origin and a rebound Host with 403", async () => {
    const admin = await init(box());
    const server = await serve(box());
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    const headers = { authorization: `Bearer ${admin.secret}`, 'content-type': 'application/json' };
    const port = new URL(server.url).port;
    const foreign = await raw(server.url, 'POST', '/mcp', { ...headers, origin: 'https://evil.example' }, ping);
    expect(foreign.status).toBe(403);
    const rebound = await raw(server.url, 'POST', '/mcp', { ...headers, host: `evil.example:${port}`, origin: `http://evil.example:${port}` }, ping);
    expect(rebound.status).toBe(403);
    const local = await raw(server.url, 'POST', '/mcp', { ...headers, origin: `http://localhost:${port}` }, ping);
    expect(local.status).toBe(200);
  });

  it('answers a body over the limit with 413 and the envelope while the client is still sending it', async () => {
    const admin = await init(box());
    const server = await serve(box());
    const json = { authorization: `Bearer ${admin.secret}`, 'content-type': 'application/json' };
    // The server answers before it has read the body and closes: a client must still read that answer.
    for (let round = 0; round < 3; round++) {
      for (const path of ['/v1/api-keys', '/mcp']) {
        for (const chunked of [false, true]) {
          const answer = await rawUpload(server.url, path, json, { size: 3 * 1024 * 1024, chunked });
          const envelope = path === '/mcp' ? (answer.json as { error: { data: unknown } }).error.data : (answer.json as { error: unknown }).error;
          expect({ path, chunked, status: answer.status, connection: answer.headers.get('connection') }).toEqual({ path, chunked, status: 413, connection: 'close' });
          expect(envelope).toMatchObject({ code: 413, type: 'PAYLOAD_TOO_LARGE', details: { limit: 256 * 1024 } });
        }
      }
    }
    expect((await rest(server.url, 'GET', '/v1/me', { key: admin.secret })).status).toBe(200);
  });

  it('answers bad input with the envelope or a JSON-RPC error, never a stack trace, and keeps serving', async () => {
    const admin = await init(box());
    const server = await serve(box());
    const key = { authorization: `Bearer ${admin.secret}` };
    const json = { ...key, 'content-type': 'application/json' };
    const answers: HttpAnswer[] = [
      await raw(server.url, 'POST', '/v1/api-keys', json, '{"name":'),
      await raw(server.url, 'POST', '/v1/api-keys', { ...key, 'content-type': 'text/plain' }, '{"name":"x"}'),
      // 2 MB without a Content-Length (chunked): refused as it streams in.
      await rawUpload(server.url, '/v1/api-keys', json, { size: 2 * 1024 * 1024, chunked: true }),
      await rawUpload(server.url, '/v1/api-keys', json, { size: 3 * 1024 * 1024 }),
      await raw(server.url, 'POST', '/v1/api-keys', json, `{"name":"x","permissions":${'['.repeat(10_000)}${']'.repeat(10_000)}}`),
      await raw(server.url, 'GET', '/v1/nothing-here', key),
      await raw(server.url, 'DELETE', '/v1/me', key),
      await raw(server.url, 'POST', '/mcp', json, '{"jsonrpc":"2.0",'),
      await raw(server.url, 'POST', '/mcp', json, '{"jsonrpc":"1.0","id":1,"method":"ping"}'),
      await raw(server.url, 'POST', '/mcp', json, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'generate_key', arguments: { name: 'x', allowed_ips: Array(500).fill('not an ip') } } })),
      await raw(server.url, 'POST', '/mcp', json, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}`),
      await raw(server.url, 'GET', '/mcp', key),
    ];
    expect(answers.map((a) => a.status)).toEqual([400, 400, 413, 413, 400, 404, 404, 400, 200, 200, 400, 405]);
    for (const answer of answers) {
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.text).not.toMatch(/\n\s+at |sqlite|SELECT|node_modules/i);
      const body = answer.json as { error?: unknown; jsonrpc?: string; result?: { isError?: boolean } };
      expect(body.error !== undefined || body.result?.isError === true).toBe(true);
    }
    expect(errorType(answers[2]!)).toBe('PAYLOAD_TOO_LARGE');
    expect(await rest(server.url, 'GET', '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect((await rest(server.url, 'GET', '/v1/me', { key: admin.secret })).status).toBe(200);
    expect(server.stderr()).not.toMatch(/\n\s+at /);
  });
});
