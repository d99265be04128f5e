import { afterEach, describe, expect, it } from 'vitest';
import { type AppWorld, appWorld, bodyOf, errorOf, makeKey } from './helpers/http-app.js';

let w: AppWorld;
afterEach(async () => {
  await w.store.close();
});

interface Counts {
  admitted: number;
  rate_limited: number;
  denied: number;
}
interface UsageBody {
  buckets: Array<Counts & { start: string }>;
  totals: Counts;
  top_keys?: Array<Counts & { key_id: string }>;
}
interface EventsBody {
  events: Array<{ id: string; type: string; key_id: string; actor_key_id: string | null; at: string; details: Record<string, unknown> }>;
  next_cursor: string | null;
}

describe('GET /v1/usage', () => {
  it('counts each call of a key in its hour by outcome: admitted, rate_limited and denied', async () => {
    w = await appWorld();
    const user = await makeKey(w, { environment: 'test', permissions: ['keys:read'] });
    // A free test key: 10 requests an hour.
    for (let i = 0; i < 12; i++) await w.ask('GET', '/v1/me', { key: user.secret });
    await w.ask('GET', '/v1/me', { key: user.secret, headers: { 'x-organization-id': 'org_other' } });
    const answer = await w.ask('GET', `/v1/usage?key_id=${user.id}`, { key: w.tenant.adminSecret });
    expect(answer.status).toBe(200);
    const body = bodyOf<UsageBody>(answer);
    expect(body.totals).toEqual({ admitted: 10, rate_limited: 2, denied: 1 });
    expect(body.buckets).toHaveLength(25);
    expect(body.buckets.at(-1)).toEqual({ start: new Date(w.clock.now).toISOString(), admitted: 10, rate_limited: 2, denied: 1 });
    expect(body.top_keys).toBeUndefined();
  });

  it('sums the organization by day with its top keys, and counts verifications on the verified key', async () => {
    w = await appWorld();
    const busy = await makeKey(w, { permissions: ['agent:chat'] });
    for (let i = 0; i < 3; i++) await w.ask('POST', '/v1/keys/verify', { key: w.tenant.adminSecret, body: { key: busy.secret } });
    w.clock.advance(3_600_000);
    await w.ask('POST', '/v1/keys/verify', { key: w.tenant.adminSecret, body: { key: busy.secret, permissions: ['missing'] } });
    const body = bodyOf<UsageBody>(await w.ask('GET', '/v1/usage?granularity=day', { key: w.tenant.adminSecret }));
    expect(body.buckets).toHaveLength(31);
    expect(body.buckets.at(-1)).toMatchObject({ admitted: 4, denied: 1 });
    expect(body.top_keys?.[0]).toEqual({ key_id: busy.id, admitted: 3, rate_limited: 0, denied: 1 });
    // The admin's own usage calls are counted too (this one is not yet).
    expect(body.top_keys?.find((k) => k.key_id === w.tenant.adminId)?.admitted).toBe(1);
  });

  it("answers 404 for another organization's key and 400 for a span backwards or past retention", async () => {
    w = await appWorld();
    const other = await w.addTenant({ name: 'Other' });
    expect((await w.ask('GET', `/v1/usage?key_id=${other.adminId}`, { key: w.tenant.adminSecret })).status).toBe(404);
    const backwards = await w.ask('GET', '/v1/usage?from=2030-01-15T12:00:00Z&to=2030-01-14T12:00:00Z', { key: w.tenant.adminSecret });
    expect(errorOf(backwards)).toMatchObject({ type: 'INVALID_REQUEST', details: { issues: [{ path: 'from' }] } });
    expect((await w.ask('GET', '/v1/usage?from=2029-01-01T00:00:00Z', { key: w.tenant.adminSecret })).status).toBe(400);
    expect((await w.ask('GET', '/v1/usage?granularity=minute', { key: w.tenant.adminSecret })).status).toBe(400);
  });

  it('keeps buckets for the retention only', async () => {
    w = await appWorld();
    const user = await makeKey(w);
    await w.ask('GET', '/v1/me', { key: user.secret });
    expect(await w.store.pruneUsage(w.clock.now - 90 * 86_400_000)).toBe(0);
    expect(await w.store.pruneUsage(w.clock.now + 3_600_000)).toBeGreaterThan(0);
    expect(bodyOf<UsageBody>(await w.ask('GET', `/v1/usage?key_id=${user.id}`, { key: w.tenant.adminSecret })).totals.admitted).toBe(0);
  });
});

describe('GET /v1/events', () => {
  it('lists each change newest first with its type and the key that made it, filtered by key and type, a page at a time', async () => {
    w = await appWorld();
    const writer = await makeKey(w, { permissions: ['keys:read', 'keys:write'] });
    const created = bodyOf<{ id: string }>(await w.ask('POST', '/v1/api-keys', { key: writer.secret, body: { name: 'svc', permissions: ['keys:read'] } }));
    await w.ask('PATCH', `/v1/keys/${created.id}`, { key: writer.secret, body: { enabled: false } });
    await w.ask('PATCH', `/v1/keys/${created.id}`, { key: writer.secret, body: { enabled: true } });
    await w.ask('PATCH', `/v1/keys/${created.id}`, { key: writer.secret, body: { name: 'svc 2' } });
    await w.ask('POST', `/v1/keys/${created.id}/rotate`, { key: writer.secret, body: { grace_period_seconds: 0 } });
    const all = bodyOf<EventsBody>(await w.ask('GET', `/v1/events?key_id=${created.id}`, { key: w.tenant.adminSecret }));
    expect(all.events.map((e) => [e.type, e.actor_key_id])).toEqual([
      ['key.rotated', writer.id],
      ['key.updated', writer.id],
      ['key.enabled', writer.id],
      ['key.disabled', writer.id],
      ['key.created', writer.id],
    ]);
    expect(all.events[0]!.id).toMatch(/^evt_\d+$/);
    const disabled = bodyOf<EventsBody>(await w.ask('GET', '/v1/events?type=key.disabled', { key: w.tenant.adminSecret }));
    expect(disabled.events.map((e) => e.key_id)).toEqual([created.id]);
    const first = bodyOf<EventsBody>(await w.ask('GET', `/v1/events?key_id=${created.id}&limit=2`, { key: w.tenant.adminSecret }));
    const second = bodyOf<EventsBody>(await w.ask('GET', `/v1/events?key_id=${created.id}&limit=2&cursor=${first.next_cursor}`, { key: w.tenant.adminSecret }));
    expect([...first.events, ...second.events].map((e) => e.id)).toEqual(all.events.slice(0, 4).map((e) => e.id));
    expect(JSON.stringify(all)).not.toMatch(/pk_(live|test)_[0-9A-Za-z]{20,}/);
  });

  it('lists a dashboard sign-in as session.created, by the key that signed in', async () => {
    w = await appWorld();
    const reader = await makeKey(w, { permissions: ['keys:read'] });
    await w.store.appendAudit({ org_id: w.tenant.org.id, key_id: reader.id, actor_key_id: reader.id, action: 'signed_in', details: {}, at: w.clock.now });
    const signIns = bodyOf<EventsBody>(await w.ask('GET', '/v1/events?type=session.created', { key: w.tenant.adminSecret }));
    expect(signIns.events).toEqual([{ id: expect.stringMatching(/^evt_\d+$/), type: 'session.created', key_id: reader.id, actor_key_id: reader.id, at: new Date(w.clock.now).toISOString(), details: {} }]);
    expect(signIns.next_cursor).toBeNull();
  });

  it("shows nothing of another organization and refuses a bad cursor, type or another organization's key", async () => {
    w = await appWorld();
    const other = await w.addTenant({ name: 'Other' });
    await makeKey(w, {}, other.adminSecret);
    const mine = bodyOf<EventsBody>(await w.ask('GET', '/v1/events', { key: w.tenant.adminSecret }));
    expect(mine.events.every((e) => e.key_id !== other.adminId)).toBe(true);
    expect((await w.ask('GET', `/v1/events?key_id=${other.adminId}`, { key: w.tenant.adminSecret })).status).toBe(404);
    expect((await w.ask('GET', '/v1/events?cursor=%%%', { key: w.tenant.adminSecret })).status).toBe(400);
    expect((await w.ask('GET', '/v1/events?type=key.deleted', { key: w.tenant.adminSecret })).status).toBe(400);
    const reader = await makeKey(w, { permissions: ['nodes.read.own'] });
    expect((await w.ask('GET', '/v1/events', { key: reader.secret })).status).toBe(403);
  });
});

describe('GET /v1/keys filters', () => {
  it('filters by environment, name and unused_since, and refuses a date that is not one', async () => {
    w = await appWorld();
    const ci = await makeKey(w, { name: 'CI deploy', environment: 'test' });
    const billing = await makeKey(w, { name: 'Billing worker' });
    await w.ask('GET', '/v1/me', { key: billing.secret });
    const idsOf = async (query: string) => bodyOf<{ apiKeys: Array<{ id: string }> }>(await w.ask('GET', `/v1/keys?${query}`, { key: w.tenant.adminSecret })).apiKeys.map((k) => k.id);
    expect(await idsOf('environment=test')).toEqual([ci.id]);
    expect(await idsOf('name=billing')).toEqual([billing.id]);
    expect(await idsOf('name=ci%20dep')).toEqual([ci.id]);
    // The admin key (this very call) and the billing key were used at noon: since noon, only the CI key is unused.
    expect(await idsOf(`unused_since=${new Date(w.clock.now).toISOString()}`)).toEqual([ci.id]);
    expect(await idsOf('unused_since=2030-01-15')).toEqual([ci.id]);
    // Used before a later date reads as unused since then.
    expect(await idsOf(`unused_since=${new Date(w.clock.now + 1).toISOString()}`)).toEqual(await idsOf('limit=100'));
    const bad = await w.ask('GET', '/v1/keys?unused_since=yesterday', { key: w.tenant.adminSecret });
    expect(errorOf(bad)).toMatchObject({ type: 'INVALID_REQUEST', details: { issues: [expect.objectContaining({ path: 'unused_since' })] } });
    expect((await w.ask('GET', '/v1/keys?environment=prod', { key: w.tenant.adminSecret })).status).toBe(400);
  });

  it('filters by state: active, disabled, expired (by the clock alone) and revoked, and refuses an unknown state', async () => {
    w = await appWorld();
    const admin = w.tenant.adminSecret;
    w.clock.advance(1_000);
    const soon = await makeKey(w, { name: 'soon', expires_in_seconds: 60 });
    w.clock.advance(1_000);
    const off = await makeKey(w, { name: 'off' });
    w.clock.advance(1_000);
    const gone = await makeKey(w, { name: 'gone' });
    expect((await w.ask('PATCH', `/v1/keys/${off.id}`, { key: admin, body: { enabled: false } })).status).toBe(200);
    expect((await w.ask('DELETE', `/v1/keys/${gone.id}`, { key: admin })).status).toBe(200);
    const idsOf = async (query: string) => bodyOf<{ apiKeys: Array<{ id: string }> }>(await w.ask('GET', `/v1/keys?${query}`, { key: admin })).apiKeys.map((k) => k.id);
    expect(await idsOf('state=active')).toEqual([soon.id, w.tenant.adminId]);
    expect(await idsOf('state=disabled')).toEqual([off.id]);
    expect(await idsOf('state=expired')).toEqual([]);
    expect(await idsOf('state=revoked')).toEqual([gone.id]);
    expect(await idsOf('state=revoked&include_revoked=false')).toEqual([gone.id]);
    expect(await idsOf('state=disabled&include_revoked=true')).toEqual([off.id]);
    w.clock.advance(60_000);
    expect(await idsOf('state=expired')).toEqual([soon.id]);
    expect(await idsOf('state=active&limit=10')).toEqual([w.tenant.adminId]);
    const bad = await w.ask('GET', '/v1/keys?state=paused', { key: admin });
    expect(errorOf(bad)).toMatchObject({ type: 'INVALID_REQUEST', details: { issues: [expect.objectContaining({ path: 'state' })] } });
  });
});
