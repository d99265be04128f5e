import { describe, expect, it } from 'vitest';
import { NOON, rejectionOf, worldsClosedAfterEach } from '../testing/fixtures.js';
import type { Caller } from './auth.js';

/** The rules that keep a leaked or limited key from reaching further than it was given. */

const world = worldsClosedAfterEach();

async function setUp() {
  const w = await world({ plan: 'pro' });
  const admin = await w.callerOf(w.tenant.adminSecret);
  /** A caller holding a new key made by the admin with these fields. */
  const callerWith = async (input: Record<string, unknown>): Promise<Caller> =>
    w.callerOf((await w.service.execute('generateKey', admin, { name: 'caller', ...input })).secret);
  const written = () => ({ keys: w.count('keys'), audit: w.count('audit_events') });
  return { w, admin, callerWith, written };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('a key in its rotation grace period', () => {
  it('cannot take over its successor: every key write answers INSUFFICIENT_PERMISSIONS saying why', async () => {
    const { w, admin, written } = await setUp();
    const leaked = (await w.service.execute('generateKey', admin, { name: 'CI', permissions: ['keys:read', 'keys:write'] }));
    const { key: successor } = (await w.service.execute('rotateKey', admin, { id: leaked.key.id, grace_period_seconds: 3_600 }));
    const attacker = await w.callerOf(leaked.secret);
    // What the probe did: read the successor's id, then rotate it to get a secret of one's own.
    expect((await w.service.execute('getKey', attacker, { id: leaked.key.id })).rotated_to).toBe(successor.id);
    const before = written();
    const writes = [
      () => w.service.execute('rotateKey', attacker, { id: successor.id, grace_period_seconds: 0 }),
      () => w.service.execute('revokeKey', attacker, { id: successor.id }),
      () => w.service.execute('updateKey', attacker, { id: successor.id, enabled: false }),
      () => w.service.execute('updateKey', attacker, { id: successor.id, name: 'mine now' }),
      () => w.service.execute('generateKey', attacker, { name: 'backdoor' }),
    ];
    for (const write of writes) {
      const error = (await rejectionOf(write()));
      expect(error).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', status: 403, details: { required: ['keys:write'], reason: 'key_rotated' } });
      expect(error.message).toMatch(/rotated/);
    }
    expect(written()).toEqual(before);
    expect((await w.service.execute('getKey', admin, { id: successor.id }))).toEqual(successor);
  });

  it('keeps working for what it did for its service (reads, whoami) until the grace period ends', async () => {
    const { w, admin } = await setUp();
    const old = (await w.service.execute('generateKey', admin, { name: 'svc', permissions: ['keys:read', 'keys:write', 'nodes.read.own'] }));
    (await w.service.execute('rotateKey', admin, { id: old.key.id, grace_period_seconds: 600 }));
    const caller = await w.callerOf(old.secret);
    expect((await w.service.execute('listKeys', caller, {})).keys.length).toBeGreaterThan(1);
    expect((await w.service.execute('whoami', caller)).key.id).toBe(old.key.id);
  });

  it('applies to an admin key too, and not to its successor', async () => {
    const { w, admin } = await setUp();
    const rotated = (await w.service.execute('rotateKey', admin, { id: admin.key.id, grace_period_seconds: 3_600 }));
    const stale = await w.callerOf(w.tenant.adminSecret);
    expect((await rejectionOf(w.service.execute('generateKey', stale, { name: 'x' }))).type).toBe('INSUFFICIENT_PERMISSIONS');
    const next = await w.callerOf(rotated.secret);
    expect((await w.service.execute('generateKey', next, { name: 'x' })).key.permissions).toEqual(['admin']);
  });
});

describe("a key's restrictions are ceilings for the keys it creates", () => {
  const restricted = { expires_in_seconds: 600, allowed_ips: ['127.0.0.1'], rate_limit: { max: 5, window_ms: 60_000 } };

  it('gives a child that asks for nothing the creator’s expiry, allowlist and rate limit, admin creators included', async () => {
    const { w, callerWith } = await setUp();
    for (const permissions of [['keys:read', 'keys:write'], ['admin']]) {
      const creator = await callerWith({ permissions, ...restricted });
      const { key } = (await w.service.execute('generateKey', creator, { name: 'child' }));
      expect(key).toMatchObject({ expires_at: iso(NOON + 600_000), allowed_ips: ['127.0.0.1'], rate_limit: { max: 5, window_ms: 60_000 } });
    }
  });

  it('answers INVALID_REQUEST naming each field that asks for more, and writes nothing', async () => {
    const { w, callerWith, written } = await setUp();
    const creator = await callerWith({ permissions: ['admin'], ...restricted });
    const before = written();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ expires_in_seconds: 601 }, 'expires_in_seconds'],
      [{ expires_at: iso(NOON + 86_400_000) }, 'expires_at'],
      [{ allowed_ips: [] }, 'allowed_ips'],
      [{ allowed_ips: ['0.0.0.0/0'] }, 'allowed_ips.0'],
      [{ allowed_ips: ['127.0.0.1', '127.0.0.2'] }, 'allowed_ips.1'],
      [{ allowed_ips: ['::1'] }, 'allowed_ips.0'],
      [{ rate_limit: { max: 6, window_ms: 60_000 } }, 'rate_limit'],
      [{ rate_limit: { max: 5, window_ms: 1_000 } }, 'rate_limit'],
    ];
    for (const [input, field] of cases) {
      const error = (await rejectionOf(w.service.execute('generateKey', creator, { name: 'wider', ...input })));
      expect(error.type, field).toBe('INVALID_REQUEST');
      expect((error.details.issues as Array<{ path: string }>).map((i) => i.path)).toEqual([field]);
    }
    expect(written()).toEqual(before);
    const fits = (await w.service.execute('generateKey', creator, { name: 'narrower', expires_in_seconds: 60, allowed_ips: ['127.0.0.1/32'], rate_limit: { max: 1, window_ms: 60_000 } }));
    expect(fits.key).toMatchObject({ expires_at: iso(NOON + 60_000), allowed_ips: ['127.0.0.1/32'], rate_limit: { max: 1, window_ms: 60_000 } });
  });

  it('so no chain of children ever gets past the first key’s limits', async () => {
    const { w, callerWith } = await setUp();
    let creator = await callerWith({ permissions: ['keys:read', 'keys:write'], ...restricted });
    for (let generation = 0; generation < 3; generation++) {
      creator = await w.callerOf((await w.service.execute('generateKey', creator, { name: `generation ${generation}` })).secret);
      expect(creator.key).toMatchObject({ expires_at: NOON + 600_000, allowed_ips: ['127.0.0.1'], rate_limit: { max: 5, window_ms: 60_000 } });
    }
  });

  it('holds for rotation: a restricted key cannot rotate an unrestricted one, but can rotate itself', async () => {
    const { w, admin, callerWith, written } = await setUp();
    const creator = await callerWith({ permissions: ['keys:read', 'keys:write'], ...restricted });
    const open = (await w.service.execute('generateKey', admin, { name: 'open', permissions: ['keys:read'] })).key;
    const before = written();
    const error = (await rejectionOf(w.service.execute('rotateKey', creator, { id: open.id })));
    expect(error.type).toBe('INVALID_REQUEST');
    expect((error.details.issues as Array<{ path: string }>).map((i) => i.path)).toEqual(['expires_at', 'allowed_ips', 'rate_limit']);
    expect(written()).toEqual(before);
    expect((await w.service.execute('getKey', admin, { id: open.id })).rotated_to).toBeNull();
    const self = (await w.service.execute('rotateKey', creator, { id: creator.key.id, grace_period_seconds: 0 }));
    expect(self.key).toMatchObject({ expires_at: iso(NOON + 600_000), allowed_ips: ['127.0.0.1'], rate_limit: { max: 5, window_ms: 60_000 } });
  });
});

describe('a test key', () => {
  it('acts on test keys only: it reads live keys but cannot revoke, rotate or update one', async () => {
    const { w, admin, callerWith, written } = await setUp();
    const tester = await callerWith({ environment: 'test', permissions: ['keys:read', 'keys:write'] });
    const live = (await w.service.execute('generateKey', admin, { name: 'production', permissions: ['keys:read'] })).key;
    expect((await w.service.execute('getKey', tester, { id: live.id })).id).toBe(live.id);
    expect((await w.service.execute('listKeys', tester, {})).keys.map((k) => k.id)).toContain(w.tenant.adminId);
    const before = written();
    const actions = [
      () => w.service.execute('revokeKey', tester, { id: live.id }),
      () => w.service.execute('rotateKey', tester, { id: live.id }),
      () => w.service.execute('updateKey', tester, { id: live.id, enabled: false }),
      () => w.service.execute('updateKey', tester, { id: live.id, name: 'renamed' }),
    ];
    for (const action of actions) expect((await rejectionOf(action()))).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', status: 403, details: { required: ['live environment'] } });
    expect(written()).toEqual(before);
    expect((await w.service.execute('getKey', admin, { id: live.id }))).toEqual(live);
    const sibling = (await w.service.execute('generateKey', tester, { name: 'sibling', permissions: ['keys:read'] })).key;
    expect((await w.service.execute('updateKey', tester, { id: sibling.id, enabled: false })).enabled).toBe(false);
    expect((await w.service.execute('revokeKey', tester, { id: sibling.id })).is_revoked).toBe(true);
  });

  it('cannot disable or revoke the live admin key, even holding admin', async () => {
    const { w, callerWith } = await setUp();
    const tester = await callerWith({ environment: 'test', permissions: ['admin'] });
    expect((await rejectionOf(w.service.execute('updateKey', tester, { id: w.tenant.adminId, enabled: false }))).type).toBe('INSUFFICIENT_PERMISSIONS');
    expect((await rejectionOf(w.service.execute('revokeKey', tester, { id: w.tenant.adminId }))).type).toBe('INSUFFICIENT_PERMISSIONS');
    expect((await w.callerOf(w.tenant.adminSecret)).key.enabled).toBe(true);
  });
});

describe('names', () => {
  const hidden = {
    'line separator': 'a\u2028b',
    'paragraph separator': 'a\u2029b',
    'right-to-left override': 'invoice\u202Efdp.exe',
    'left-to-right embedding': '\u202Aabc',
    'pop directional isolate': 'abc\u2069',
    'first strong isolate': '\u2068abc',
    'zero-width space': 'ad\u200Bmin',
    'zero-width joiner': 'a\u200Db',
    'right-to-left mark': 'a\u200Fb',
    'byte order mark': 'a\uFEFFb',
    'tag character': 'admin\u{E0041}',
    'language tag': '\u{E0001}admin',
    'Hangul filler only': '\u3164',
    'braille blanks only': '\u2800\u2800',
    'combining mark only': '\u0301',
  };

  it('refuses invisible and disguising characters in key names, on generate and update', async () => {
    const { w, admin, written } = await setUp();
    const key = (await w.service.execute('generateKey', admin, { name: 'plain' })).key;
    const before = written();
    for (const [what, name] of Object.entries(hidden)) {
      for (const attempt of [() => w.service.execute('generateKey', admin, { name }), () => w.service.execute('updateKey', admin, { id: key.id, name })]) {
        const error = (await rejectionOf(attempt()));
        expect(error.type, what).toBe('INVALID_REQUEST');
        expect(error.details.issues, what).toEqual([expect.objectContaining({ path: 'name' })]);
      }
    }
    expect(written()).toEqual(before);
    for (const name of ['Clé d’accès 🔑 日本語 — prod', 'עברית', 'Ελληνικά', '🇫🇷 deploy', 'a b']) expect((await w.service.execute('generateKey', admin, { name })).key.name).toBe(name);
  });

  it('refuses them in organization names too', async () => {
    const { w } = await setUp();
    for (const [what, name] of Object.entries(hidden)) {
      expect((await rejectionOf(w.service.createOrganization({ name, plan: 'free' }))).details.issues, what).toEqual([expect.objectContaining({ path: 'name' })]);
    }
    expect((await w.service.createOrganization({ name: '  Société Générale  ', plan: 'free' })).organization.name).toBe('Société Générale');
  });
});
