import { afterEach, describe, expect, it } from 'vitest';
import { NOON, type World, createWorld, databaseText, rejectionOf } from '../testing/fixtures.js';
import type { Caller } from './auth.js';
import { Reveals } from './reveals.js';
import type { KeyView } from './schemas.js';
import { parseToken } from './tokens.js';

let w: World;
let admin: Caller;
async function setUp(...args: Parameters<typeof createWorld>): Promise<void> {
  w = await createWorld(...args);
  admin = await w.callerOf(w.tenant.adminSecret);
}
afterEach(() => w.store.close());

/** A caller holding a new key made by the admin with these fields. */
async function callerWith(input: Record<string, unknown>): Promise<Caller> {
  return w.callerOf((await w.service.execute('generateKey', admin, { name: 'caller', ...input })).secret);
}

describe('KeyService.list', () => {
  it('pages through every key once, newest first, with cursors', async () => {
    await setUp();
    for (let i = 0; i < 23; i++) {
      if (i % 4 === 0) w.clock.advance(1_000); // several keys share a created_at: the id breaks the tie
      await w.service.execute('generateKey', admin, { name: `key ${i}` });
    }
    const all = await w.service.execute('listKeys', admin, { limit: 100 });
    expect(all.keys).toHaveLength(24);
    expect(all.next_cursor).toBeNull();
    const seen: KeyView[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await w.service.execute('listKeys', admin, { limit: 5, ...(cursor && { cursor }) });
      seen.push(...result.keys);
      if (result.next_cursor === null) break;
      cursor = result.next_cursor;
    }
    expect(seen.map((k) => k.id)).toEqual(all.keys.map((k) => k.id));
    const created = all.keys.map((k) => k.created_at);
    expect(created).toEqual([...created].sort().reverse());
  });

  it('keeps its place when a key already seen is revoked between pages', async () => {
    await setUp();
    for (let i = 0; i < 9; i++) await w.service.execute('generateKey', admin, { name: `key ${i}` });
    const first = await w.service.execute('listKeys', admin, { limit: 4 });
    const seen = first.keys.find((k) => k.id !== w.tenant.adminId)!.id;
    await w.service.execute('revokeKey', admin, { id: seen });
    const rest = await w.service.execute('listKeys', admin, { limit: 100, cursor: first.next_cursor! });
    const everyLive = (await w.service.execute('listKeys', admin, { limit: 100 })).keys.map((k) => k.id);
    expect([...first.keys.map((k) => k.id).filter((id) => id !== seen), ...rest.keys.map((k) => k.id)]).toEqual(everyLive);
  });

  it('hides revoked keys unless include_revoked is set', async () => {
    await setUp();
    const gone = (await w.service.execute('generateKey', admin, { name: 'gone' })).key;
    await w.service.execute('revokeKey', admin, { id: gone.id });
    expect((await w.service.execute('listKeys', admin, {})).keys.map((k) => k.id)).not.toContain(gone.id);
    const withRevoked = (await w.service.execute('listKeys', admin, { include_revoked: true })).keys;
    expect(withRevoked.find((k) => k.id === gone.id)).toMatchObject({ is_revoked: true, revoked_at: new Date(NOON).toISOString() });
  });

  it('lists keys by state, judging expiry by its clock', async () => {
    await setUp();
    const ids = async (input: Record<string, unknown>) => (await w.service.execute('listKeys', admin, { limit: 100, ...input })).keys.map((k) => k.id);
    w.clock.advance(1_000);
    const soon = (await w.service.execute('generateKey', admin, { name: 'soon', expires_in_seconds: 60 })).key;
    const off = (await w.service.execute('generateKey', admin, { name: 'off' })).key;
    const gone = (await w.service.execute('generateKey', admin, { name: 'gone' })).key;
    await w.service.execute('updateKey', admin, { id: off.id, enabled: false });
    await w.service.execute('revokeKey', admin, { id: gone.id });
    expect(await ids({ state: 'active' })).toEqual([soon.id, w.tenant.adminId]);
    expect(await ids({ state: 'disabled' })).toEqual([off.id]);
    expect(await ids({ state: 'expired' })).toEqual([]);
    expect(await ids({ state: 'revoked' })).toEqual([gone.id]);
    expect(await ids({ state: 'disabled', include_revoked: true })).toEqual([off.id]);
    w.clock.advance(60_000);
    expect(await ids({ state: 'active' })).toEqual([w.tenant.adminId]);
    expect(await ids({ state: 'expired' })).toEqual([soon.id]);
    const page = await w.service.execute('listKeys', admin, { limit: 1, state: 'active' });
    expect(page).toMatchObject({ keys: [{ id: w.tenant.adminId, enabled: true, is_revoked: false }], next_cursor: null });
  });

  it('refuses a state it does not know, naming state', async () => {
    await setUp();
    expect((await rejectionOf(w.service.execute('listKeys', admin, { state: 'paused' }))).details.issues).toEqual([expect.objectContaining({ path: 'state' })]);
  });

  it('answers INVALID_REQUEST naming cursor for a cursor it did not issue', async () => {
    await setUp();
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of ['garbage!', forged({}), forged([1]), forged(['a', 'b']), forged([1.5, 'key_x']), forged(null), 'x'.repeat(300)]) {
      const error = await rejectionOf(w.service.execute('listKeys', admin, { cursor }));
      expect(error.type, cursor).toBe('INVALID_REQUEST');
      expect(error.details.issues).toEqual([expect.objectContaining({ path: 'cursor' })]);
    }
  });

  it('refuses a limit outside 1..100', async () => {
    await setUp();
    for (const limit of [0, 101, 2.5, '10']) expect((await rejectionOf(w.service.execute('listKeys', admin, { limit }))).details.issues).toEqual([expect.objectContaining({ path: 'limit' })]);
  });
});

describe('KeyService.generate', () => {
  it("defaults to the caller's environment and permissions and shows the secret once", async () => {
    await setUp();
    w.clock.advance(5);
    const { key, secret } = await w.service.execute('generateKey', admin, { name: 'CI' });
    expect(parseToken(secret)).toBe('live');
    expect(key).toEqual({
      id: expect.stringMatching(/^key_/),
      name: 'CI',
      environment: 'live',
      start: secret.slice(0, 12),
      permissions: ['admin'],
      allowed_ips: [],
      expires_at: null,
      enabled: true,
      is_revoked: false,
      revoked_at: null,
      rate_limit: null,
      created_at: new Date(NOON + 5).toISOString(),
      updated_at: new Date(NOON + 5).toISOString(),
      last_used_at: null,
      rotated_from: null,
      rotated_to: null,
    });
    expect((await w.store.getKey(w.tenant.org.id, key.id))?.created_by).toBe(w.tenant.adminId);
    expect(JSON.stringify(await w.service.execute('getKey', admin, { id: key.id }))).not.toContain(secret);
    expect((await w.callerOf(secret)).key.id).toBe(key.id);
  });

  it('sets expiry from expires_in_seconds or expires_at', async () => {
    await setUp();
    expect((await w.service.execute('generateKey', admin, { name: 'a', expires_in_seconds: 3_600 })).key.expires_at).toBe(new Date(NOON + 3_600_000).toISOString());
    expect((await w.service.execute('generateKey', admin, { name: 'b', expires_at: '2031-01-01T00:00:00+02:00' })).key.expires_at).toBe('2030-12-31T22:00:00.000Z');
  });

  it('keeps unicode names as given, trimmed', async () => {
    await setUp();
    const name = 'Clé d’accès 🔑 日本語 — prod';
    expect((await w.service.execute('generateKey', admin, { name })).key.name).toBe(name);
    expect((await w.service.execute('generateKey', admin, { name: '  padded  ' })).key.name).toBe('padded');
  });

  it('refuses invalid input with INVALID_REQUEST naming the field, and writes nothing', async () => {
    await setUp();
    const past = new Date(NOON - 1).toISOString();
    const future = new Date(NOON + 86_400_000).toISOString();
    const long = 'x'.repeat(10_000);
    const cases: Array<[unknown, string]> = [
      [{}, 'name'],
      [{ name: '' }, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'a\u0000b' }, 'name'],
      [{ name: 'tab\there' }, 'name'],
      [{ name: 'bell\u0007' }, 'name'],
      [{ name: long }, 'name'],
      [{ name: 5 }, 'name'],
      [{ name: 'ok', environment: 'prod' }, 'environment'],
      [{ name: 'ok', permissions: [] }, 'permissions'],
      [{ name: 'ok', permissions: ['keys:read', 'keys:read'] }, 'permissions'],
      [{ name: 'ok', permissions: [long] }, 'permissions.0'],
      [{ name: 'ok', permissions: ['has space'] }, 'permissions.0'],
      [{ name: 'ok', allowed_ips: ['10.0.0.0/33'] }, 'allowed_ips.0'],
      [{ name: 'ok', allowed_ips: ['10.0.0.1', '300.1.1.1'] }, 'allowed_ips.1'],
      [{ name: 'ok', allowed_ips: ['10.0.0.0/8/1'] }, 'allowed_ips.0'],
      [{ name: 'ok', allowed_ips: ['::/129'] }, 'allowed_ips.0'],
      [{ name: 'ok', allowed_ips: ['example.com'] }, 'allowed_ips.0'],
      [{ name: 'ok', allowed_ips: [''] }, 'allowed_ips.0'],
      [{ name: 'ok', allowed_ips: [long] }, 'allowed_ips.0'],
      [{ name: 'ok', allowed_ips: '10.0.0.1' }, 'allowed_ips'],
      [{ name: 'ok', expires_at: 'tomorrow' }, 'expires_at'],
      [{ name: 'ok', expires_at: long }, 'expires_at'],
      [{ name: 'ok', expires_at: past }, 'expires_at'],
      [{ name: 'ok', expires_at: future, expires_in_seconds: 3_600 }, 'expires_at'],
      [{ name: 'ok', expires_in_seconds: 10 }, 'expires_in_seconds'],
      [{ name: 'ok', expires_in_seconds: 90.5 }, 'expires_in_seconds'],
      [{ name: 'ok', rate_limit: { max: 0, window_ms: 1_000 } }, 'rate_limit.max'],
      [{ name: 'ok', rate_limit: { max: 5, window_ms: 10 } }, 'rate_limit.window_ms'],
      [{ name: 'ok', rate_limit: { max: 5, window_ms: 1_000, burst: 2 } }, 'rate_limit.burst'],
      [{ name: 'ok', secret: 'pk_live_mine' }, 'secret'],
      [{ name: 'ok', organization_id: 'org_other' }, 'organization_id'],
    ];
    const before = { keys: w.count('keys'), audit: w.count('audit_events') };
    for (const [input, field] of cases) {
      const error = await rejectionOf(w.service.execute('generateKey', admin, input));
      expect(error.type, JSON.stringify(input).slice(0, 80)).toBe('INVALID_REQUEST');
      expect(error.status).toBe(400);
      const paths = (error.details.issues as Array<{ path: string }>).map((i) => i.path);
      expect(paths, JSON.stringify(input).slice(0, 80)).toContain(field);
    }
    expect({ keys: w.count('keys'), audit: w.count('audit_events') }).toEqual(before);
  });
});

describe('KeyService permissions', () => {
  it('lets keys:read list and get, and nothing else', async () => {
    await setUp();
    const reader = await callerWith({ permissions: ['keys:read'] });
    expect((await w.service.execute('listKeys', reader, {})).keys.length).toBeGreaterThan(0);
    expect((await w.service.execute('getKey', reader, { id: w.tenant.adminId })).id).toBe(w.tenant.adminId);
    const writes = [
      () => w.service.execute('generateKey', reader, { name: 'x' }),
      () => w.service.execute('revokeKey', reader, { id: w.tenant.adminId }),
      () => w.service.execute('rotateKey', reader, { id: reader.key.id }),
      () => w.service.execute('updateKey', reader, { id: reader.key.id, name: 'renamed' }),
    ];
    for (const write of writes) expect(await rejectionOf(write())).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', status: 403, details: { required: ['keys:write'] } });
  });

  it('lets a non-admin grant, and act on, only what it holds itself', async () => {
    await setUp();
    const writer = await callerWith({ permissions: ['keys:read', 'keys:write'] });
    expect((await w.service.execute('generateKey', writer, { name: 'r', permissions: ['keys:read'] })).key.permissions).toEqual(['keys:read']);
    expect((await w.service.execute('generateKey', writer, { name: 'same' })).key.permissions).toEqual(['keys:read', 'keys:write']);
    for (const permissions of [['admin'], ['keys:read', 'nodes.read.own']]) {
      expect(await rejectionOf(w.service.execute('generateKey', writer, { name: 'wider', permissions }))).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
    }
    const wider = (await w.service.execute('generateKey', admin, { name: 'wider', permissions: ['keys:read', 'nodes.read.own'] })).key;
    const actions = [
      () => w.service.execute('revokeKey', writer, { id: wider.id }),
      () => w.service.execute('rotateKey', writer, { id: wider.id }),
      () => w.service.execute('updateKey', writer, { id: wider.id, enabled: false }),
      () => w.service.execute('revokeKey', writer, { id: w.tenant.adminId }),
    ];
    for (const action of actions) expect(await rejectionOf(action())).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', details: { required: expect.any(Array) } });
    expect(await w.service.execute('getKey', admin, { id: wider.id })).toMatchObject({ enabled: true, is_revoked: false, rotated_to: null });
  });

  it('lets admin grant any permission string, which is stored and returned', async () => {
    await setUp();
    const permissions = ['nodes.read.own', 'billing:*', 'agents/deploy'];
    expect((await w.service.execute('generateKey', admin, { name: 'custom', permissions })).key.permissions).toEqual(permissions);
  });

  it('never lets a test key obtain a live key, by generating or by rotating one', async () => {
    await setUp();
    const tester = await callerWith({ environment: 'test' });
    expect(tester.key.environment).toBe('test');
    expect((await w.service.execute('generateKey', tester, { name: 'child' })).key.environment).toBe('test');
    expect(await rejectionOf(w.service.execute('generateKey', tester, { name: 'live', environment: 'live' }))).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
    const live = (await w.service.execute('generateKey', admin, { name: 'live one' })).key;
    expect(await rejectionOf(w.service.execute('rotateKey', tester, { id: live.id }))).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
    expect((await w.service.execute('getKey', admin, { id: live.id })).rotated_to).toBeNull();
  });

  it('lets any valid key ask whoami', async () => {
    await setUp();
    const plain = await callerWith({ permissions: ['nodes.read.own'] });
    expect(await w.service.execute('whoami', plain)).toMatchObject({ organization: { id: w.tenant.org.id, name: 'Acme', plan: 'free' }, key: { id: plain.key.id } });
    expect((await rejectionOf(w.service.execute('listKeys', plain, {}))).type).toBe('INSUFFICIENT_PERMISSIONS');
  });
});

describe('KeyService tenancy', () => {
  it("answers another organization's key id exactly like an unknown id, and changes nothing", async () => {
    await setUp();
    const mine = (await w.service.execute('generateKey', admin, { name: 'mine' })).key;
    const other = await w.callerOf((await w.addTenant({ name: 'Other' })).adminSecret);
    const unknown = 'key_doesnotexist000000';
    const attempts = [
      (id: string) => w.service.execute('getKey', other, { id }),
      (id: string) => w.service.execute('revokeKey', other, { id }),
      (id: string) => w.service.execute('rotateKey', other, { id }),
      (id: string) => w.service.execute('updateKey', other, { id, name: 'taken' }),
      (id: string) => w.service.execute('updateKey', other, { id, enabled: false }),
    ];
    for (const attempt of attempts) {
      const foreign = await rejectionOf(attempt(mine.id));
      expect(foreign.type).toBe('NOT_FOUND');
      expect(foreign.status).toBe(404);
      expect(foreign.toEnvelope()).toEqual((await rejectionOf(attempt(unknown))).toEnvelope());
    }
    expect(await w.service.execute('getKey', admin, { id: mine.id })).toEqual(mine);
    expect((await w.service.execute('listKeys', other, { include_revoked: true })).keys.map((k) => k.id)).toEqual([other.key.id]);
  });
});

describe('KeyService.whoami', () => {
  it("reports the plan's hourly quota even when the key's own rate limit binds first", async () => {
    await setUp();
    const tight = await callerWith({ rate_limit: { max: 5, window_ms: 60_000 } });
    const me = await w.service.execute('whoami', tight);
    expect(me.limits.hourly).toMatchObject({ limit: 100, remaining: 100, reset_at: new Date(NOON + 3_600_000).toISOString() });
    expect(tight.window).toMatchObject({ limit: 5, remaining: 5 });
  });

  it('refuses arguments it does not take, like every other tool', async () => {
    await setUp();
    const error = await rejectionOf(w.service.execute('whoami', admin, { verbose: true }));
    expect(error.type).toBe('INVALID_REQUEST');
    expect(error.details.issues).toEqual([expect.objectContaining({ path: 'verbose' })]);
  });
});

describe('KeyService: a new secret delivered by reveal', () => {
  it('stores the secret sealed, with the key, for one reveal that shows it once', async () => {
    await setUp();
    const reveals = new Reveals(w.store, w.clock.read);
    let code = '';
    const reveal = (secret: string) => {
      const sealed = reveals.seal(secret);
      code = sealed.code;
      return sealed.record;
    };
    const created = await w.service.execute('generateKey', admin, { name: 'CI' }, reveal);
    expect(databaseText(w.store)).not.toContain(created.secret);
    expect(await reveals.take(code)).toBe(created.secret);
    expect(await reveals.take(code)).toBeUndefined();
    const rotated = await w.service.execute('rotateKey', admin, { id: created.key.id }, reveal);
    expect(await reveals.take(code)).toBe(rotated.secret);
  });

  it('keeps no key, rotation or event when the reveal cannot be stored', async () => {
    await setUp();
    const reveals = new Reveals(w.store, w.clock.read);
    const taken = reveals.seal('pk_live_taken').record;
    await w.store.insertReveal(taken);
    const refused = (secret: string) => ({ ...reveals.seal(secret).record, id: taken.id });
    const old = (await w.service.execute('generateKey', admin, { name: 'old' })).key;
    const before = { keys: w.count('keys'), events: w.count('audit_events'), reveals: w.count('reveals') };
    await expect(w.service.execute('generateKey', admin, { name: 'CI' }, refused)).rejects.toThrow();
    await expect(w.service.execute('rotateKey', admin, { id: old.id }, refused)).rejects.toThrow();
    expect({ keys: w.count('keys'), events: w.count('audit_events'), reveals: w.count('reveals') }).toEqual(before);
    expect(await w.service.execute('getKey', admin, { id: old.id })).toEqual(old);
  });

  it('seals nothing for a key it refuses to make', async () => {
    await setUp();
    let sealed = 0;
    const error = await rejectionOf(w.service.execute('generateKey', admin, { name: '' }, () => (sealed++, { id: 'r', sealed: 'x', expires_at: NOON + 1, created_at: NOON })));
    expect(error.type).toBe('INVALID_REQUEST');
    expect(sealed).toBe(0);
    expect(w.count('reveals')).toBe(0);
  });

  it('refuses to seal for an operation that makes no secret', async () => {
    await setUp();
    await expect(w.service.execute('listKeys', admin, {}, () => ({ id: 'r', sealed: 'x', expires_at: NOON + 1, created_at: NOON }))).rejects.toThrow('makes no secret');
  });
});
