import { describe, expect, it } from 'vitest';
import { ALL_TOOLS, READ_TOOLS } from './helpers/mcp-client.js';
import { init } from './helpers/sandbox.js';
import { useWorkspace } from './helpers/workspace.js';

const ws = useWorkspace();

type Key = { id: string; name: string; enabled: boolean; is_revoked: boolean; start: string; [field: string]: unknown };

describe('MCP over stdio: the tools, end to end', () => {
  it('lets an admin key whoami, generate, list, get, update, rotate and revoke', async () => {
    const admin = await init(ws.box, ['--org', 'Acme']);
    const s = await ws.connect({ key: admin.secret });
    expect(await s.toolNames()).toEqual(ALL_TOOLS);

    expect(await s.ok('whoami')).toMatchObject({
      organization: { id: admin.orgId, name: 'Acme', plan: 'free' },
      key: { id: admin.keyId, environment: 'live', permissions: ['admin'], start: admin.secret.slice(0, 12) },
      limits: { hourly: { limit: 100, remaining: 99 }, concurrency: { limit: 2, in_flight: 1 } },
    });

    const fields = { name: 'CI', permissions: ['keys:read'], allowed_ips: ['127.0.0.1', '10.0.0.0/8'], rate_limit: { max: 5, window_ms: 60_000 } };
    const created = (await s.ok('generate_key', { ...fields, expires_in_seconds: 86_400 })) as { key: Key; secret: string };
    expect(created.secret).toMatch(/^pk_live_[0-9A-Za-z]{38}$/);
    expect(created.key).toMatchObject({ ...fields, environment: 'live', start: created.secret.slice(0, 12), enabled: true, is_revoked: false });
    expect(Date.parse(created.key.expires_at as string) - Date.now()).toBeGreaterThan(86_000_000);

    const ci = await ws.connect({ key: created.secret });
    expect(await ci.toolNames()).toEqual(READ_TOOLS);
    expect(await ci.ok('whoami')).toMatchObject({ key: { id: created.key.id, permissions: ['keys:read'] } });

    const listed = (await s.ok('list_keys')) as { keys: Key[]; next_cursor: string | null };
    expect(listed.keys.map((k) => k.id)).toEqual([created.key.id, admin.keyId]);
    expect(listed.next_cursor).toBeNull();
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    expect(JSON.stringify(listed)).not.toContain(admin.secret);
    const firstPage = (await s.ok('list_keys', { limit: 1 })) as { keys: Key[]; next_cursor: string };
    expect((await s.ok('list_keys', { limit: 1, cursor: firstPage.next_cursor })) as { keys: Key[] }).toMatchObject({ keys: [{ id: admin.keyId }], next_cursor: null });

    expect(await s.ok('get_key', { id: created.key.id })).toMatchObject({ id: created.key.id, name: 'CI', last_used_at: expect.any(String) });
    expect(await s.ok('update_key', { id: created.key.id, name: 'CI (GitHub)', enabled: false })).toMatchObject({ name: 'CI (GitHub)', enabled: false });
    expect((await ci.fail('whoami')).type).toBe('DISABLED_API_KEY');

    const rotated = (await s.ok('rotate_key', { id: created.key.id, grace_period_seconds: 0 })) as { key: Key; secret: string; previous: Key };
    expect(rotated.key).toMatchObject({ ...fields, name: 'CI (GitHub)', rotated_from: created.key.id });
    expect(rotated.previous).toMatchObject({ id: created.key.id, is_revoked: true, rotated_to: rotated.key.id });
    expect(rotated.secret).not.toBe(created.secret);

    const revoked = (await s.ok('revoke_key', { id: rotated.key.id })) as Key;
    expect(revoked).toMatchObject({ id: rotated.key.id, is_revoked: true });
    expect(await s.ok('revoke_key', { id: rotated.key.id })).toEqual(revoked);
    expect(((await s.ok('list_keys')) as { keys: Key[] }).keys.map((k) => k.id)).toEqual([admin.keyId]);
    const everything = (await s.ok('list_keys', { include_revoked: true })) as { keys: Key[] };
    expect(everything.keys.map((k) => k.id).sort()).toEqual([admin.keyId, created.key.id, rotated.key.id].sort());

    expect(await s.fail('revoke_key', { id: admin.keyId })).toMatchObject({ code: 409, type: 'CANNOT_REVOKE_SELF' });
    expect(await s.fail('get_key', { id: 'not a key' })).toMatchObject({ code: 400, type: 'INVALID_REQUEST', details: { issues: [expect.objectContaining({ path: 'id' })] } });
  });

  it('lets a key rotate itself and go on with the new secret', async () => {
    const admin = await init(ws.box);
    const s = await ws.connect({ key: admin.secret });
    const rotated = (await s.ok('rotate_key', { id: admin.keyId, grace_period_seconds: 60 })) as { key: Key; secret: string; previous: Key };
    expect(rotated.previous.expires_at).toEqual(expect.any(String));
    expect(await s.ok('whoami')).toMatchObject({ key: { id: admin.keyId } }); // within the grace period
    const next = await ws.connect({ key: rotated.secret });
    expect(await next.ok('whoami')).toMatchObject({ key: { id: rotated.key.id, permissions: ['admin'] } });
    expect(await next.fail('rotate_key', { id: admin.keyId })).toMatchObject({ type: 'INVALID_REQUEST' });
  });
});

describe('MCP over stdio: permissions', () => {
  it('shows a keys:read key only the read tools and refuses it every write', async () => {
    const admin = await init(ws.box);
    const s = await ws.connect({ key: admin.secret });
    const reader = (await s.ok('generate_key', { name: 'reader', permissions: ['keys:read'] })) as { secret: string };
    const r = await ws.connect({ key: reader.secret });
    expect(await r.toolNames()).toEqual(READ_TOOLS);
    expect(((await r.ok('list_keys')) as { keys: Key[] }).keys).toHaveLength(2);
    for (const [tool, args] of [
      ['generate_key', { name: 'x' }],
      ['revoke_key', { id: admin.keyId }],
      ['rotate_key', { id: admin.keyId }],
      ['update_key', { id: admin.keyId, name: 'mine now' }],
    ] as const) {
      expect(await r.fail(tool, args), tool).toMatchObject({ code: 403, type: 'INSUFFICIENT_PERMISSIONS', details: { required: ['keys:write'] } });
    }
    expect(await s.ok('get_key', { id: admin.keyId })).toMatchObject({ name: 'Admin key', is_revoked: false });
  });

  it('lets a non-admin writer grant only what it holds, and a test key make only test keys', async () => {
    const admin = await init(ws.box);
    const s = await ws.connect({ key: admin.secret });
    const writer = (await s.ok('generate_key', { name: 'writer', permissions: ['keys:read', 'keys:write'] })) as { secret: string };
    const w = await ws.connect({ key: writer.secret });
    expect(await w.toolNames()).toEqual(ALL_TOOLS);
    expect(await w.fail('generate_key', { name: 'up', permissions: ['admin'] })).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', details: { required: ['admin'] } });
    expect(await w.fail('revoke_key', { id: admin.keyId })).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
    expect(await w.ok('generate_key', { name: 'down', permissions: ['keys:read'] })).toMatchObject({ key: { permissions: ['keys:read'] } });

    const tester = (await s.ok('generate_key', { name: 'tester', environment: 'test' })) as { secret: string };
    expect(tester.secret).toMatch(/^pk_test_/);
    const t = await ws.connect({ key: tester.secret });
    expect(await t.fail('generate_key', { name: 'live', environment: 'live' })).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
    expect(await t.fail('rotate_key', { id: admin.keyId })).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
    expect(((await t.ok('generate_key', { name: 'child' })) as { secret: string }).secret).toMatch(/^pk_test_/);
  });
});

describe('MCP over stdio: organizations', () => {
  it("answers another organization's key id exactly as an unknown id, and lists only one's own keys", async () => {
    const a = await init(ws.box, ['--org', 'A']);
    const b = await init(ws.box, ['--org', 'B']);
    const sa = await ws.connect({ key: a.secret });
    const sb = await ws.connect({ key: b.secret });
    const unknown = 'key_0000000000000000000X';
    for (const [tool, extra] of [
      ['get_key', {}],
      ['revoke_key', {}],
      ['rotate_key', {}],
      ['update_key', { enabled: false }],
    ] as const) {
      const foreign = await sb.fail(tool, { id: a.keyId, ...extra });
      expect(foreign).toMatchObject({ code: 404, type: 'NOT_FOUND' });
      expect(foreign).toEqual(await sb.fail(tool, { id: unknown, ...extra }));
    }
    expect(((await sb.ok('list_keys', { include_revoked: true })) as { keys: Key[] }).keys.map((k) => k.id)).toEqual([b.keyId]);
    expect(await sa.ok('whoami')).toMatchObject({ organization: { id: a.orgId, name: 'A' }, key: { id: a.keyId, enabled: true, is_revoked: false } });
  });
});
