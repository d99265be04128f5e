import { afterEach, describe, expect, it } from 'vitest';
import { type AppWorld, appWorld, bodyOf, errorOf, makeKey } from './helpers/http-app.js';

let w: AppWorld;
afterEach(async () => {
  await w.store.close();
});

interface Verified {
  valid: boolean;
  type: string;
  key: { id: string; permissions: string[] } | null;
  organization: { id: string } | null;
  ratelimit: { limit: number; remaining: number; reset_at: string } | null;
  lease: { id: string; expires_at: string } | null;
}

const verify = (verifier: string, body: unknown) => w.ask('POST', '/v1/keys/verify', { key: verifier, body });
const usageOf = (keyId: string) => (w.store.db.prepare('SELECT hour_count FROM usage WHERE key_id = ?').pluck().get(keyId) as number | undefined) ?? 0;

describe('POST /v1/keys/verify', () => {
  it('answers 200 VALID with the key, its organization and its window, charging the verified key and not the verifier', async () => {
    w = await appWorld();
    const user = await makeKey(w, { permissions: ['nodes.read.own'] });
    const answer = await verify(w.tenant.adminSecret, { key: user.secret });
    expect(answer.status).toBe(200);
    const body = bodyOf<Verified>(answer);
    expect(body).toMatchObject({ valid: true, type: 'VALID', key: { id: user.id, permissions: ['nodes.read.own'] }, organization: { id: w.tenant.org.id }, lease: null });
    expect(body.ratelimit).toMatchObject({ limit: 100, remaining: 99 });
    expect(answer.text).not.toContain(user.secret);
    expect(usageOf(user.id)).toBe(1);
    expect(usageOf(w.tenant.adminId)).toBe(0);
  });

  it('charges cost to the verified key, and checks without charging with cost 0', async () => {
    w = await appWorld();
    const user = await makeKey(w);
    expect(bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret, cost: 40 })).ratelimit?.remaining).toBe(60);
    expect(bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret, cost: 0 })).ratelimit?.remaining).toBe(60);
    const over = bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret, cost: 61 }));
    expect(over).toMatchObject({ valid: false, type: 'RATE_LIMIT_EXCEEDED', key: { id: user.id } });
    expect(usageOf(user.id)).toBe(40);
  });

  it('answers RATE_LIMIT_EXCEEDED once the 100 requests of a free key are spent', async () => {
    w = await appWorld();
    const user = await makeKey(w);
    const types: string[] = [];
    for (let i = 0; i < 101; i++) types.push(bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret })).type);
    expect(types.slice(0, 100).every((t) => t === 'VALID')).toBe(true);
    expect(types[100]).toBe('RATE_LIMIT_EXCEEDED');
  });

  it("answers INVALID_API_KEY with key null for an unknown key, a malformed one and another organization's", async () => {
    w = await appWorld();
    const other = await w.addTenant({ name: 'Other' });
    const theirs = await makeKey(w, {}, other.adminSecret);
    for (const key of [theirs.secret, 'pk_live_notatoken', other.adminSecret.slice(0, -1) + (other.adminSecret.endsWith('A') ? 'B' : 'A')]) {
      const answer = await verify(w.tenant.adminSecret, { key });
      expect(answer.status).toBe(200);
      expect(bodyOf<Verified>(answer)).toEqual({ valid: false, type: 'INVALID_API_KEY', key: null, organization: null, ratelimit: null, lease: null });
    }
    // Nothing was counted on the other organization's key.
    expect(usageOf(theirs.id)).toBe(0);
  });

  it('answers the state of a revoked, disabled or expired key, and the missing permissions and addresses', async () => {
    w = await appWorld();
    const revoked = await makeKey(w);
    const disabled = await makeKey(w);
    const pinned = await makeKey(w, { allowed_ips: ['203.0.113.0/24'], permissions: ['agent:chat'] });
    const admin = await w.callerOf(w.tenant.adminSecret);
    await w.service.execute('revokeKey', admin, { id: revoked.id });
    await w.service.execute('updateKey', admin, { id: disabled.id, enabled: false });
    const typeOf = async (body: unknown) => bodyOf<Verified>(await verify(w.tenant.adminSecret, body)).type;
    expect(await typeOf({ key: revoked.secret })).toBe('REVOKED_API_KEY');
    expect(await typeOf({ key: disabled.secret })).toBe('DISABLED_API_KEY');
    expect(await typeOf({ key: pinned.secret, ip: '198.51.100.1' })).toBe('IP_NOT_ALLOWED');
    expect(await typeOf({ key: pinned.secret })).toBe('IP_NOT_ALLOWED');
    expect(await typeOf({ key: pinned.secret, ip: '203.0.113.9', permissions: ['agent:chat', 'tasks:write'] })).toBe('INSUFFICIENT_PERMISSIONS');
    expect(await typeOf({ key: pinned.secret, ip: '203.0.113.9', permissions: ['agent:chat'] })).toBe('VALID');
    w.clock.advance(1);
  });

  it('sees a revocation on the very next verify', async () => {
    w = await appWorld();
    const user = await makeKey(w);
    expect(bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret })).valid).toBe(true);
    await w.service.execute('revokeKey', await w.callerOf(w.tenant.adminSecret), { id: user.id });
    expect(bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret })).type).toBe('REVOKED_API_KEY');
  });

  it('refuses a verifier without keys:verify (403), a missing or bad verifier key (401), and charges nothing', async () => {
    w = await appWorld();
    const user = await makeKey(w);
    const reader = await makeKey(w, { permissions: ['keys:read'] });
    const verifier = await makeKey(w, { permissions: ['keys:verify'] });
    const refused = await verify(reader.secret, { key: user.secret });
    expect(refused.status).toBe(403);
    expect(errorOf(refused)).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', details: { required: ['keys:verify'] } });
    expect((await verify('pk_live_bad', { key: user.secret })).status).toBe(401);
    expect((await w.ask('POST', '/v1/keys/verify', { body: { key: user.secret } })).status).toBe(401);
    expect(usageOf(user.id)).toBe(0);
    expect(bodyOf<Verified>(await verify(verifier.secret, { key: user.secret })).valid).toBe(true);
  });

  it.each([
    ['an empty body', undefined, 'key'],
    ['an empty key', { key: '' }, 'key'],
    ['a cost out of range', { key: 'pk_live_x', cost: 1001 }, 'cost'],
    ['a negative cost', { key: 'pk_live_x', cost: -1 }, 'cost'],
    ['an ip that is not an address', { key: 'pk_live_x', ip: '10.0.0.0/8' }, 'ip'],
    ['an unknown field', { key: 'pk_live_x', extra: 1 }, 'extra'],
    ['a lease_ms past the maximum', { key: 'pk_live_x', hold: true, lease_ms: 900_001 }, 'lease_ms'],
  ])('answers 400 INVALID_REQUEST naming the field for %s', async (_name, body, field) => {
    w = await appWorld();
    const answer = await w.ask('POST', '/v1/keys/verify', { key: w.tenant.adminSecret, body: body ?? '' , headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    const error = errorOf(answer);
    expect(error.type).toBe('INVALID_REQUEST');
    if (body !== undefined) expect(error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
    expect(answer.text).not.toContain(w.tenant.adminSecret);
  });
});

describe('concurrency leases', () => {
  it('holds a slot until released: the third hold of a free key is refused, a release lets the next one in', async () => {
    w = await appWorld();
    const user = await makeKey(w);
    const hold = async () => bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret, hold: true }));
    const first = await hold();
    const second = await hold();
    expect([first.type, second.type]).toEqual(['VALID', 'VALID']);
    expect(first.lease?.id).toMatch(/^lease_/);
    expect((await hold()).type).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    // A plain REST request of that key is refused too: leases and in-flight requests count together.
    expect(errorOf(await w.ask('GET', '/v1/me', { key: user.secret })).type).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    const released = await w.ask('POST', `/v1/leases/${first.lease!.id}/release`, { key: w.tenant.adminSecret });
    expect(released.status).toBe(200);
    expect(bodyOf(released)).toMatchObject({ id: first.lease!.id, key_id: user.id, released_at: expect.any(String) });
    // Twice is harmless and answers the same lease.
    const again = await w.ask('POST', `/v1/leases/${first.lease!.id}/release`, { key: w.tenant.adminSecret });
    expect(bodyOf(again)).toEqual(bodyOf(released));
    expect((await hold()).type).toBe('VALID');
  });

  it('frees an expired lease', async () => {
    w = await appWorld();
    const user = await makeKey(w);
    for (let i = 0; i < 2; i++) await verify(w.tenant.adminSecret, { key: user.secret, hold: true, lease_ms: 1_000 });
    expect(bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret, hold: true })).type).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    w.clock.advance(1_001);
    expect(bodyOf<Verified>(await verify(w.tenant.adminSecret, { key: user.secret, hold: true })).type).toBe('VALID');
  });

  it("answers 404 for another organization's lease or an unknown one, and 400 for a malformed id", async () => {
    w = await appWorld();
    const other = await w.addTenant({ name: 'Other' });
    const theirs = await makeKey(w, {}, other.adminSecret);
    const lease = bodyOf<Verified>(await verify(other.adminSecret, { key: theirs.secret, hold: true })).lease!;
    const foreign = await w.ask('POST', `/v1/leases/${lease.id}/release`, { key: w.tenant.adminSecret });
    expect(foreign.status).toBe(404);
    expect((await w.ask('POST', '/v1/leases/lease_unknown/release', { key: w.tenant.adminSecret })).status).toBe(404);
    expect((await w.ask('POST', '/v1/leases/nope/release', { key: w.tenant.adminSecret })).status).toBe(400);
    // Still held: the foreign release changed nothing.
    expect(w.store.db.prepare('SELECT released_at FROM leases WHERE id = ?').pluck().get(lease.id)).toBeNull();
  });
});
