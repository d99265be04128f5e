import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Outcome, type Served, type StdioServer, baseEnv, call, init, rest, serve, stdio, tempHome } from './helpers/remote.js';

/**
 * Remote mode end to end: a real `serve` process on a temp database, a remote-mode stdio server
 * talking to it over REST, and a local-mode stdio server on the same database for comparison.
 */

const home = tempHome('remote');
const dbPath = join(home.dir, 'server.db');
/** Where a remote-mode process would put a database if it opened one; it must not. */
const untouchedDb = join(home.dir, 'never', 'dispersl.db');

let admin: { secret: string; keyId: string };
let server: Served;
let remote: StdioServer;
let local: StdioServer;
const opened: StdioServer[] = [];

async function remoteAs(key: string | undefined): Promise<StdioServer> {
  const s = await stdio(baseEnv(home.dir, { DISPERSL_BASE_URL: server.base, DISPERSL_API_KEY: key, DISPERSL_DB: untouchedDb }));
  opened.push(s);
  return s;
}

async function localAs(key: string): Promise<StdioServer> {
  const s = await stdio(baseEnv(home.dir, { DISPERSL_API_KEY: key, DISPERSL_DB: dbPath }));
  opened.push(s);
  return s;
}

/** A key made over REST by the admin; its secret is the only way to act as it. */
async function makeKey(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const made = await rest(server.base, admin.secret, 'POST', '/api-keys', body);
  expect(made.status).toBe(201);
  return { id: made.body.id as string, secret: made.body.secret_key as string };
}

beforeAll(async () => {
  // Room for every call of this file in the hour; the 429 case uses a key with its own small limit.
  admin = init(home.dir, dbPath, ['--plan', 'enterprise', '--requests-per-hour', '100000']);
  server = await serve(home.dir, dbPath);
  remote = await remoteAs(admin.secret);
  local = await localAs(admin.secret);
}, 60_000);

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await server?.stop();
  home.remove();
});

describe('remote mode against a real server', () => {
  it('answers get_key exactly as local mode does, to the byte', async () => {
    const other = await makeKey({ name: 'Deploy bot', environment: 'test', permissions: ['keys:read'], allowed_ips: ['10.0.0.0/8'] });
    const viaRemote = await call(remote, 'get_key', { id: other.id });
    const viaLocal = await call(local, 'get_key', { id: other.id });
    expect(viaRemote.ok).toBe(true);
    expect(viaRemote.text).toBe(viaLocal.text);
  });

  it('lists the same keys, with the same fields in the same order', async () => {
    await makeKey({ name: 'Lister', environment: 'test' });
    const viaRemote = await call(remote, 'list_keys', { limit: 100, include_revoked: true });
    const viaLocal = await call(local, 'list_keys', { limit: 100, include_revoked: true });
    // Only the calling key's last use moves between the two calls.
    const mask = (text: string) => text.replace(new RegExp(`("id":"${admin.keyId}"[^}]*"last_used_at":)"[^"]*"`), '$1"…"');
    expect(viaRemote.ok).toBe(true);
    expect(mask(viaRemote.text)).toBe(mask(viaLocal.text));
    expect((viaRemote.value.keys as unknown[]).length).toBeGreaterThan(1);
  });

  it('pages through keys with the cursor list_keys returns', async () => {
    const first = await call(remote, 'list_keys', { limit: 1 });
    expect(first.value.next_cursor).toEqual(expect.any(String));
    const second = await call(remote, 'list_keys', { limit: 1, cursor: first.value.next_cursor });
    const secondLocal = await call(local, 'list_keys', { limit: 1, cursor: first.value.next_cursor });
    expect(second.ok).toBe(true);
    expect(second.text).toBe(secondLocal.text);
  });

  it('charges whoami against the same quota as local mode', async () => {
    const hourly = (o: Outcome) => (o.value.limits as { hourly: { remaining: number; reset_at: string } }).hourly;
    let viaLocal = await call(local, 'whoami');
    let viaRemote = await call(remote, 'whoami');
    // Hours are aligned to the clock: if one began between the two calls, measure again.
    if (hourly(viaRemote).reset_at !== hourly(viaLocal).reset_at) {
      viaLocal = await call(local, 'whoami');
      viaRemote = await call(remote, 'whoami');
    }
    expect(viaRemote.ok).toBe(true);
    expect(hourly(viaRemote).remaining).toBe(hourly(viaLocal).remaining - 1);
    expect(Object.keys(viaRemote.value)).toEqual(Object.keys(viaLocal.value));
    expect(viaRemote.value.organization).toEqual(viaLocal.value.organization);
  });

  it.each([
    ['get_key', { id: 'key_doesnotexist000000' }],
    ['get_key', { id: 'not-a-key-id' }],
    ['generate_key', { name: '' }],
    ['generate_key', { name: 'x', expires_at: '2001-01-01T00:00:00Z' }],
    ['generate_key', { name: 'x', surprise: true }],
    ['update_key', { id: 'key_doesnotexist000000' }],
    ['rotate_key', { id: 'key_doesnotexist000000', grace_period_seconds: 99_999_999 }],
    ['list_keys', { limit: 0 }],
    ['list_keys', { cursor: 'garbage' }],
  ])('gives the same error as local mode for %s %j', async (tool, args) => {
    const viaRemote = await call(remote, tool, args);
    const viaLocal = await call(local, tool, args);
    expect(viaRemote.ok).toBe(false);
    expect(viaRemote.text).toBe(viaLocal.text);
  });

  it('refuses to revoke its own key with the same 409 as local mode', async () => {
    const viaRemote = await call(remote, 'revoke_key', { id: admin.keyId });
    expect(viaRemote.text).toBe((await call(local, 'revoke_key', { id: admin.keyId })).text);
    expect(viaRemote.value).toMatchObject({ error: { code: 409, type: 'CANNOT_REVOKE_SELF' } });
  });

  it('generates and rotates keys with the shapes local mode returns', async () => {
    const viaRemote = await call(remote, 'generate_key', { name: 'Shape', environment: 'test', expires_in_seconds: 3600 });
    const viaLocal = await call(local, 'generate_key', { name: 'Shape', environment: 'test', expires_in_seconds: 3600 });
    expect(viaRemote.ok).toBe(true);
    const keysOf = (v: Record<string, unknown>) => [Object.keys(v), Object.keys(v.key as object)];
    expect(keysOf(viaRemote.value)).toEqual(keysOf(viaLocal.value));
    expect(viaRemote.value.secret).toMatch(/^pk_test_/);

    const id = (viaRemote.value.key as { id: string }).id;
    const rotated = await call(remote, 'rotate_key', { id, grace_period_seconds: 0 });
    expect(rotated.ok).toBe(true);
    const { key, previous } = rotated.value as { key: { id: string; name: string }; previous: { rotated_to: string; is_revoked: boolean } };
    expect(previous).toMatchObject({ rotated_to: key.id, is_revoked: true });
    expect(key.name).toBe('Shape');
  });

  it('revokes a key that REST then refuses on the very next request', async () => {
    const victim = await makeKey({ name: 'Leaked', environment: 'test' });
    expect((await rest(server.base, victim.secret, 'GET', '/me')).status).toBe(200);
    const revoked = await call(remote, 'revoke_key', { id: victim.id });
    expect(revoked.ok).toBe(true);
    expect(revoked.value).toMatchObject({ id: victim.id, is_revoked: true });
    const after = await rest(server.base, victim.secret, 'GET', '/me');
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ error: { type: 'REVOKED_API_KEY' } });
    expect((await rest(server.base, admin.secret, 'GET', `/keys/${victim.id}`)).body).toMatchObject({ is_revoked: true });
  });

  it('disables a key over remote mode, and the server refuses it', async () => {
    const target = await makeKey({ name: 'Paused', environment: 'test' });
    expect((await call(remote, 'update_key', { id: target.id, enabled: false })).value).toMatchObject({ enabled: false });
    expect((await rest(server.base, target.secret, 'GET', '/me')).body).toMatchObject({ error: { type: 'DISABLED_API_KEY' } });
  });

  it('never creates the local database', () => {
    expect(existsSync(untouchedDb)).toBe(false);
    expect(existsSync(join(home.dir, 'never'))).toBe(false);
    expect(existsSync(join(home.dir, '.dispersl'))).toBe(false);
  });
});

describe("remote mode passes the server's refusals through unchanged", () => {
  it('401 for an unknown key, as REST says it', async () => {
    const stranger = 'pk_live_' + 'A'.repeat(30);
    const s = await remoteAs(stranger);
    const viaRemote = await call(s, 'whoami');
    const viaRest = await rest(server.base, stranger, 'GET', '/me');
    expect(viaRest.status).toBe(401);
    expect(viaRemote.value).toEqual(viaRest.body);
  });

  it('401 for a revoked key, the same error REST gives', async () => {
    const gone = await makeKey({ name: 'Gone', environment: 'test' });
    await rest(server.base, admin.secret, 'DELETE', `/keys/${gone.id}`);
    const viaRemote = await call(await remoteAs(gone.secret), 'list_keys');
    expect(viaRemote.value).toEqual((await rest(server.base, gone.secret, 'GET', '/keys')).body);
    expect(viaRemote.value).toMatchObject({ error: { code: 401, type: 'REVOKED_API_KEY' } });
  });

  it('403 for a key without keys:write, which also sees only the read tools', async () => {
    const reader = await makeKey({ name: 'Reader', environment: 'test', permissions: ['keys:read'] });
    const s = await remoteAs(reader.secret);
    // Past 3 s without the server's answer (a busy machine), tools/list shows every tool and asks
    // again next time, as a client re-listing would find.
    let tools = (await s.client.listTools()).tools.map((t) => t.name);
    for (let i = 0; i < 3 && tools.length === 7; i++) tools = (await s.client.listTools()).tools.map((t) => t.name);
    const localTools = (await (await localAs(reader.secret)).client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(localTools);
    expect(tools).toEqual(['list_keys', 'get_key', 'whoami', 'get_usage', 'list_events']);
    const viaRemote = await call(s, 'generate_key', { name: 'Escalate' });
    const viaRest = await rest(server.base, reader.secret, 'POST', '/api-keys', { name: 'Escalate' });
    expect(viaRest.status).toBe(403);
    expect(viaRemote.value).toEqual(viaRest.body);
  });

  it('404 for a key of another organization, exactly as for an unknown id', async () => {
    const otherOrg = init(home.dir, dbPath, ['--org', 'Other']);
    const viaRemote = await call(remote, 'get_key', { id: otherOrg.keyId });
    expect(viaRemote.value).toEqual((await rest(server.base, admin.secret, 'GET', `/keys/${otherOrg.keyId}`)).body);
    expect(viaRemote.value).toMatchObject({ error: { code: 404, type: 'NOT_FOUND' } });
  });

  it('429 with retry_after once the key has spent its quota', async () => {
    const limited = await makeKey({ name: 'Limited', environment: 'test', rate_limit: { max: 2, window_ms: 86_400_000 } });
    const s = await remoteAs(limited.secret);
    expect((await call(s, 'whoami')).ok).toBe(true);
    expect((await call(s, 'whoami')).ok).toBe(true);
    const refused = await call(s, 'whoami');
    const viaRest = await rest(server.base, limited.secret, 'GET', '/me');
    expect(viaRest.status).toBe(429);
    expect(refused.value).toMatchObject({ error: { code: 429, type: 'RATE_LIMIT_EXCEEDED', details: { retry_after: expect.any(Number) } } });
    const { retry_after: _a, ...restDetails } = (viaRest.body.error as { details: Record<string, unknown> }).details;
    const { retry_after: _b, ...remoteDetails } = (refused.value.error as { details: Record<string, unknown> }).details;
    expect(remoteDetails).toEqual(restDetails);
    expect((refused.value.error as { message: string }).message).toBe((viaRest.body.error as { message: string }).message);
  });

  it('MISSING_API_KEY with a hint when no key is configured, sending nothing', async () => {
    const s = await remoteAs(undefined);
    expect((await s.client.listTools()).tools).toHaveLength(9);
    const viaRemote = await call(s, 'whoami');
    expect(viaRemote.value).toMatchObject({ error: { code: 401, type: 'MISSING_API_KEY', details: { hint: expect.stringContaining('DISPERSL_API_KEY') } } });
  });
});
