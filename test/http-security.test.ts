import { describe, expect, it } from 'vitest';
import { READ_TOOLS } from './helpers/mcp-client.js';
import { type AppWorld, appWorld, errorOf, makeKey } from './helpers/http-app.js';

/** What the HTTP app writes down or sends back about secrets, and the headers that keep responses out of caches and sniffers. */

function logText(w: AppWorld): string {
  return JSON.stringify(w.logs);
}

describe('what a leaked key can still do, over REST and MCP', () => {
  it('a key in its rotation grace period reads its successor but cannot rotate, revoke or disable it', async () => {
    const w = await appWorld({ plan: 'pro' });
    const admin = w.tenant.adminSecret;
    const leaked = await makeKey(w, { name: 'CI', permissions: ['keys:read', 'keys:write'] });
    const rotated = await w.ask('POST', `/v1/keys/${leaked.id}/rotate`, { key: admin, body: { grace_period_seconds: 3600 } });
    const successor = (rotated.json as { key: { id: string } }).key.id;
    const seen = await w.ask('GET', `/v1/keys/${leaked.id}`, { key: leaked.secret });
    expect(seen.json).toMatchObject({ rotated_to: successor });
    const attempts = [
      await w.ask('POST', `/v1/keys/${successor}/rotate`, { key: leaked.secret, body: { grace_period_seconds: 0 } }),
      await w.ask('DELETE', `/v1/keys/${successor}`, { key: leaked.secret }),
      await w.ask('PATCH', `/v1/keys/${successor}`, { key: leaked.secret, body: { enabled: false } }),
      await w.ask('GET', '/v1/keys/new', { key: leaked.secret }),
    ];
    for (const answer of attempts) {
      expect(answer.status).toBe(403);
      expect(errorOf(answer)).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', details: { reason: 'key_rotated' } });
    }
    const viaMcp = await w.rpc('/mcp', leaked.secret, 'tools/call', { name: 'rotate_key', arguments: { id: successor, grace_period_seconds: 0 } });
    expect(viaMcp.text).toContain('INSUFFICIENT_PERMISSIONS');
    expect(viaMcp.text).not.toMatch(/pk_live_/);
    expect((await w.ask('GET', `/v1/keys/${successor}`, { key: admin })).json).toMatchObject({ is_revoked: false, enabled: true, rotated_to: null });
  });

  it('a test key cannot disable or revoke the live admin key', async () => {
    const w = await appWorld({ plan: 'pro' });
    const tester = await makeKey(w, { name: 'CI', environment: 'test', permissions: ['admin'] });
    for (const answer of [
      await w.ask('PATCH', `/v1/keys/${w.tenant.adminId}`, { key: tester.secret, body: { enabled: false } }),
      await w.ask('DELETE', `/v1/keys/${w.tenant.adminId}`, { key: tester.secret }),
    ]) {
      expect(answer.status).toBe(403);
      expect(errorOf(answer).type).toBe('INSUFFICIENT_PERMISSIONS');
    }
    expect((await w.ask('GET', '/v1/me', { key: w.tenant.adminSecret })).status).toBe(200);
  });
});

describe('secrets in request paths', () => {
  it('never writes a key from the path to the access log or a 404 body, however the path is spelled', async () => {
    const w = await appWorld({ plan: 'pro' });
    const key = w.tenant.adminSecret;
    const paths = [`//ot/${key}`, `/OT/${key}`, `/ot//${key}`, `/v1/keys/${key}`, `/v1/keys/${key}/rotate/x`, `/V1/KEYS/${key.replace('pk_live_', 'PK_LIVE_')}`];
    for (const path of paths) {
      const answer = await w.ask('POST', path, { body: { jsonrpc: '2.0', id: 1, method: 'ping' } });
      expect(answer.status, path).toBe(404);
      expect(errorOf(answer).message, path).toContain('[redacted]');
      expect(answer.text, path).not.toContain(key.slice(8));
    }
    const lines = w.logs.filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(paths.length);
    for (const line of lines) expect(line.path).toMatch(/\[redacted\]/);
    expect(logText(w)).not.toContain(key.slice(8));
  });

  it('never logs an access token pasted into a path', async () => {
    const w = await appWorld();
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJrZXlfYWJjIn0.c2lnbmF0dXJlc2lnbmF0dXJl';
    const answer = await w.ask('GET', `/v2/${jwt}`);
    expect(answer.status).toBe(404);
    expect(answer.text).not.toContain(jwt.split('.')[1]);
    expect(logText(w)).not.toContain(jwt.split('.')[1]);
  });

  it('does not take a key sent as X-Request-ID for the request id', async () => {
    const w = await appWorld();
    const key = w.tenant.adminSecret;
    const answer = await w.ask('GET', '/healthz', { headers: { 'x-request-id': key } });
    expect(answer.headers.get('x-request-id')).not.toContain(key);
    expect(logText(w)).not.toContain(key);
  });
});

describe('failures of our own', () => {
  it('logs the cause of an internal error (the store’s message and code), never a token, and answers nothing internal', async () => {
    const w = await appWorld();
    const key = w.tenant.adminSecret;
    w.store.chargeBatch = async () => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    const rest = await w.ask('GET', '/v1/keys', { key });
    const mcp = await w.rpc('/mcp', key, 'tools/call', { name: 'whoami', arguments: {} });
    const ot = await w.rpc(`/ot/${key}`, undefined, 'tools/call', { name: 'whoami', arguments: {} });
    // A batch is only peeked at first: its tool call reaches the gate inside the tool, and fails there.
    const batch = await w.ask('POST', '/mcp', { key, body: [{ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } }] });
    for (const answer of [rest, mcp, ot]) {
      expect(answer.status).toBe(500);
      expect(answer.text).not.toMatch(/disk|sqlite/i);
    }
    expect(batch.text).toContain('INTERNAL_ERROR');
    expect(batch.text).not.toMatch(/disk|sqlite/i);
    const failures = w.logs.filter((l) => l.level === 'error');
    expect(failures.map((l) => l.msg)).toEqual(['request failed', 'request failed', 'request failed', 'tool call failed']);
    for (const line of failures) expect(line).toMatchObject({ error: 'database or disk is full', code: 'SQLITE_FULL' });
    expect(logText(w)).not.toContain(key);
  });
});

describe('response headers', () => {
  it('marks every response nosniff, and every response that can hold a secret no-store', async () => {
    const w = await appWorld({ plan: 'pro' });
    const key = w.tenant.adminSecret;
    const created = await w.ask('POST', '/v1/api-keys', { key, body: { name: 'CI' } });
    const id = (created.json as { id: string }).id;
    const secretBearing = [
      created,
      await w.ask('GET', '/v1/keys/new', { key }),
      await w.ask('POST', `/v1/keys/${id}/rotate`, { key }),
      await w.rpc('/mcp', key, 'tools/call', { name: 'generate_key', arguments: { name: 'from MCP' } }),
      await w.rpc(`/ot/${key}`, undefined, 'tools/call', { name: 'generate_key', arguments: { name: 'from the path' } }),
    ];
    for (const answer of secretBearing) {
      expect(answer.status).toBeLessThan(300);
      expect(answer.text).toMatch(/pk_live_/);
      expect(answer.headers.get('cache-control')).toBe('no-store');
    }
    const others = [
      await w.ask('GET', '/healthz'),
      await w.ask('GET', '/v1/keys', { key }),
      await w.ask('GET', '/v1/keys'),
      await w.ask('GET', '/nowhere'),
      await w.ask('POST', '/v1/api-keys', { key, body: '{', headers: { 'content-type': 'application/json' } }),
      await w.ask('GET', '/mcp', { key }),
    ];
    for (const answer of [...secretBearing, ...others]) expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('MCP URLs with a trailing slash', () => {
  const toolsOf = (answer: { json: unknown }) => (answer.json as { result: { tools: Array<{ name: string }> } }).result.tools.map((t) => t.name);

  it('answer like the same URL without it: /mcp/readonly/ is read-only', async () => {
    const w = await appWorld();
    const key = w.tenant.adminSecret;
    const read = READ_TOOLS;
    for (const [path, bearer] of [['/mcp/readonly/', key], [`/ot/${key}/readonly/`, undefined]] as const) {
      const listed = await w.rpc(path, bearer, 'tools/list');
      expect(listed.status, path).toBe(200);
      expect(toolsOf(listed), path).toEqual(read);
      const write = await w.rpc(path, bearer, 'tools/call', { name: 'generate_key', arguments: { name: 'sneaky' } });
      expect(write.text, path).not.toMatch(/pk_live_/);
    }
    expect(w.count('keys')).toBe(1);
    for (const [path, bearer] of [['/mcp/', key], [`/ot/${key}/`, undefined]] as const) {
      expect(toolsOf(await w.rpc(path, bearer, 'tools/list'))).toContain('generate_key');
    }
    expect((await w.ask('GET', '/mcp/readonly/', { key })).status).toBe(405);
  });
});

describe('GET /healthz', () => {
  it('answers 503 "unavailable" while the database cannot be written, logging why, and 200 again once it can', async () => {
    const w = await appWorld();
    expect(await w.ask('GET', '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    w.store.db.pragma('query_only = ON');
    const down = await w.ask('GET', '/healthz');
    expect(down).toMatchObject({ status: 503, json: { status: 'unavailable', reason: 'the database cannot be written' } });
    expect(down.text).not.toMatch(/sqlite|readonly/i);
    expect(w.logs.find((l) => l.msg === 'health check failed: the database cannot be written')).toMatchObject({ level: 'warn', code: expect.stringMatching(/^SQLITE_READONLY/) });
    w.store.db.pragma('query_only = OFF');
    expect(await w.ask('GET', '/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
  });
});
