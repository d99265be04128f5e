import { afterEach, describe, expect, it } from 'vitest';
import { NOON, type World, createWorld, credential, databaseText, rejectionOf } from '../testing/fixtures.js';
import type { Caller } from './auth.js';

let w: World;
let admin: Caller;
async function setUp(): Promise<void> {
  w = await createWorld();
  admin = await w.callerOf(w.tenant.adminSecret);
}
afterEach(() => w.store.close());

const iso = (ms: number) => new Date(ms).toISOString();
async function admitted(token: string): Promise<string> {
  const admission = await w.gate.admit(credential(token));
  admission.release();
  return admission.caller.key.id;
}
const refusal = async (token: string) => (await rejectionOf(w.gate.admit(credential(token)))).type;

function audit(): Array<{ key_id: string; actor_key_id: string | null; action: string; at: number }> {
  return w.store.db.prepare('SELECT key_id, actor_key_id, action, at FROM audit_events ORDER BY id').all() as never;
}

describe('KeyService.revoke', () => {
  it('revokes at once, and revoking again answers the same revoked key', async () => {
    await setUp();
    const key = await w.service.execute('generateKey', admin, { name: 'doomed' });
    w.clock.advance(1_000);
    const revoked = await w.service.execute('revokeKey', admin, { id: key.key.id });
    expect(revoked).toMatchObject({ id: key.key.id, is_revoked: true, revoked_at: iso(NOON + 1_000) });
    expect(await refusal(key.secret)).toBe('REVOKED_API_KEY');
    w.clock.advance(1_000);
    expect(await w.service.execute('revokeKey', admin, { id: key.key.id })).toEqual(revoked);
    expect(audit().filter((e) => e.action === 'revoked')).toHaveLength(1);
  });

  it('refuses to revoke or disable the calling key with CANNOT_REVOKE_SELF, which still works', async () => {
    await setUp();
    for (const attempt of [
      () => w.service.execute('revokeKey', admin, { id: admin.key.id }),
      () => w.service.execute('updateKey', admin, { id: admin.key.id, enabled: false }),
    ]) {
      const error = await rejectionOf(attempt());
      expect(error).toMatchObject({ type: 'CANNOT_REVOKE_SELF', status: 409 });
      expect(error.message).toMatch(/rotate/);
    }
    expect(await admitted(w.tenant.adminSecret)).toBe(w.tenant.adminId);
  });
});

describe('KeyService.rotate', () => {
  const fields = { name: 'deploy bot', permissions: ['keys:read', 'nodes.read.own'], allowed_ips: ['127.0.0.1', '10.0.0.0/8'], rate_limit: { max: 50, window_ms: 60_000 } };

  it('issues a key with the same name, permissions, IPs, limits and environment, linked both ways', async () => {
    await setUp();
    const old = await w.service.execute('generateKey', admin, { ...fields, environment: 'test' });
    w.clock.advance(1_000);
    const { key, secret, previous } = await w.service.execute('rotateKey', admin, { id: old.key.id });
    expect(key).toMatchObject({ ...fields, environment: 'test', rotated_from: old.key.id, rotated_to: null, enabled: true, created_at: iso(NOON + 1_000) });
    expect(key.id).not.toBe(old.key.id);
    expect(secret).toMatch(/^pk_test_/);
    expect(key.start).toBe(secret.slice(0, 12));
    expect(previous).toMatchObject({ id: old.key.id, rotated_to: key.id, is_revoked: false, expires_at: iso(NOON + 1_000 + 3_600_000) });
    expect(await admitted(secret)).toBe(key.id);
  });

  it('keeps the old key working through the grace period, then answers EXPIRED_API_KEY', async () => {
    await setUp();
    const old = await w.service.execute('generateKey', admin, { name: 'svc' });
    const { secret } = await w.service.execute('rotateKey', admin, { id: old.key.id, grace_period_seconds: 600 });
    w.clock.advance(600_000 - 1);
    expect(await admitted(old.secret)).toBe(old.key.id);
    w.clock.advance(1);
    const error = await rejectionOf(w.gate.admit(credential(old.secret)));
    expect(error).toMatchObject({ type: 'EXPIRED_API_KEY', details: { expired_at: iso(NOON + 600_000) } });
    expect(await admitted(secret)).not.toBe(old.key.id);
  });

  it('revokes the old key at once with a grace period of 0', async () => {
    await setUp();
    const old = await w.service.execute('generateKey', admin, { name: 'svc' });
    const { previous } = await w.service.execute('rotateKey', admin, { id: old.key.id, grace_period_seconds: 0 });
    expect(previous).toMatchObject({ is_revoked: true, revoked_at: iso(NOON) });
    expect(await refusal(old.secret)).toBe('REVOKED_API_KEY');
  });

  it('never extends an old key that would expire before the grace period ends', async () => {
    await setUp();
    const old = await w.service.execute('generateKey', admin, { name: 'short', expires_in_seconds: 120 });
    expect((await w.service.execute('rotateKey', admin, { id: old.key.id, grace_period_seconds: 3_600 })).previous.expires_at).toBe(iso(NOON + 120_000));
  });

  it('lets a caller rotate its own key and carry on with the new secret', async () => {
    await setUp();
    const own = await w.service.execute('generateKey', admin, { name: 'me', permissions: ['keys:read', 'keys:write'] });
    const self = await w.callerOf(own.secret);
    const rotated = await w.service.execute('rotateKey', self, { id: self.key.id, grace_period_seconds: 0 });
    expect(await refusal(own.secret)).toBe('REVOKED_API_KEY');
    const next = await w.callerOf(rotated.secret);
    expect(next.key).toMatchObject({ id: rotated.key.id, permissions: ['keys:read', 'keys:write'] });
    expect((await w.service.execute('listKeys', next, {})).keys.map((k) => k.id)).toContain(rotated.key.id);
  });

  it('refuses to rotate a key twice, a revoked key or an expired key, writing nothing', async () => {
    await setUp();
    const once = (await w.service.execute('generateKey', admin, { name: 'once' })).key;
    await w.service.execute('rotateKey', admin, { id: once.id });
    const revoked = (await w.service.execute('generateKey', admin, { name: 'revoked' })).key;
    await w.service.execute('revokeKey', admin, { id: revoked.id });
    const expiring = (await w.service.execute('generateKey', admin, { name: 'expiring', expires_in_seconds: 60 })).key;
    w.clock.advance(60_000);
    const before = { keys: w.count('keys'), audit: w.count('audit_events') };
    for (const id of [once.id, revoked.id, expiring.id]) {
      expect((await rejectionOf(w.service.execute('rotateKey', admin, { id }))).details.issues).toEqual([expect.objectContaining({ path: 'id' })]);
    }
    for (const grace_period_seconds of [-1, 604_801, 1.5, '60']) {
      expect((await rejectionOf(w.service.execute('rotateKey', admin, { id: expiring.id, grace_period_seconds }))).details.issues).toEqual([
        expect.objectContaining({ path: 'grace_period_seconds' }),
      ]);
    }
    expect({ keys: w.count('keys'), audit: w.count('audit_events') }).toEqual(before);
  });
});

describe('KeyService.update', () => {
  it('renames, disables and enables a key, effective at its next request', async () => {
    await setUp();
    const key = await w.service.execute('generateKey', admin, { name: 'before' });
    w.clock.advance(2_000);
    expect(await w.service.execute('updateKey', admin, { id: key.key.id, name: 'after' })).toMatchObject({ name: 'after', enabled: true, updated_at: iso(NOON + 2_000) });
    expect(await w.service.execute('updateKey', admin, { id: key.key.id, enabled: false })).toMatchObject({ name: 'after', enabled: false });
    expect(await refusal(key.secret)).toBe('DISABLED_API_KEY');
    expect(await w.service.execute('updateKey', admin, { id: key.key.id, enabled: true, name: 'again' })).toMatchObject({ name: 'again', enabled: true });
    expect(await admitted(key.secret)).toBe(key.key.id);
  });

  it('refuses an empty change, a bad name and a revoked key', async () => {
    await setUp();
    const key = (await w.service.execute('generateKey', admin, { name: 'k' })).key;
    expect((await rejectionOf(w.service.execute('updateKey', admin, { id: key.id }))).type).toBe('INVALID_REQUEST');
    expect((await rejectionOf(w.service.execute('updateKey', admin, { id: key.id, name: 'a\u0000' }))).details.issues).toEqual([expect.objectContaining({ path: 'name' })]);
    expect((await rejectionOf(w.service.execute('updateKey', admin, { id: 'not-an-id', name: 'x' }))).details.issues).toEqual([expect.objectContaining({ path: 'id' })]);
    await w.service.execute('revokeKey', admin, { id: key.id });
    expect((await rejectionOf(w.service.execute('updateKey', admin, { id: key.id, enabled: true }))).type).toBe('INVALID_REQUEST');
    expect((await w.service.execute('listKeys', admin, { include_revoked: true })).keys.find((k) => k.id === key.id)).toMatchObject({ name: 'k', is_revoked: true });
  });
});

describe('KeyService.whoami', () => {
  it('reports the organization, the key and what remains of its limits', async () => {
    await setUp();
    for (let i = 0; i < 3; i++) await admitted(w.tenant.adminSecret);
    const admission = await w.gate.admit(credential(w.tenant.adminSecret));
    expect(await w.service.execute('whoami', admission.caller)).toMatchObject({
      organization: { id: w.tenant.org.id, name: 'Acme', plan: 'free' },
      key: { id: w.tenant.adminId, permissions: ['admin'], last_used_at: iso(NOON) },
      limits: { hourly: { limit: 100, remaining: 96, reset_at: iso(NOON + 3_600_000) }, concurrency: { limit: 2, in_flight: 1 } },
    });
  });
});

describe('the audit trail', () => {
  it('records who created, revoked, rotated and updated which key, and never a token', async () => {
    await setUp();
    const writer = await w.callerOf((await w.service.execute('generateKey', admin, { name: 'writer', permissions: ['keys:read', 'keys:write'] })).secret);
    const secrets = [w.tenant.adminSecret];
    const a = await w.service.execute('generateKey', writer, { name: 'a', permissions: ['keys:read'] });
    secrets.push(a.secret);
    w.clock.advance(10);
    await w.service.execute('updateKey', writer, { id: a.key.id, name: 'a2' });
    const rotated = await w.service.execute('rotateKey', writer, { id: a.key.id, grace_period_seconds: 0 });
    secrets.push(rotated.secret);
    await w.service.execute('revokeKey', admin, { id: rotated.key.id });
    const mine = audit().filter((e) => e.actor_key_id === writer.key.id || e.key_id === rotated.key.id);
    expect(mine).toEqual([
      { key_id: a.key.id, actor_key_id: writer.key.id, action: 'created', at: NOON },
      { key_id: a.key.id, actor_key_id: writer.key.id, action: 'updated', at: NOON + 10 },
      { key_id: a.key.id, actor_key_id: writer.key.id, action: 'rotated', at: NOON + 10 },
      { key_id: rotated.key.id, actor_key_id: writer.key.id, action: 'created', at: NOON + 10 },
      { key_id: rotated.key.id, actor_key_id: admin.key.id, action: 'revoked', at: NOON + 10 },
    ]);
    const text = databaseText(w.store);
    expect(text).toContain(rotated.key.start); // the scan does read the keys
    for (const secret of secrets) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice('pk_live_'.length));
      expect(text).not.toContain(secret.slice(12, 30));
    }
  });
});
