import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_USAGE } from '../core/model.js';
import type { AuditEvent, KeyRecord, KeyState, LeaseRecord, Organization, Usage } from '../core/model.js';
import type { KeyLookup, KeyRef, KeyStore, RevealRecord, SessionRecord, SigningKeyRecord } from '../core/store.js';

/**
 * The one suite every KeyStore backend passes (better-auth's adapter suites are the model): a
 * backend's test file calls describeStoreContract with a way to make a fresh, empty database, and
 * adds only what is particular to it (file modes, pragmas, its caches) in its own tests.
 */

/** One fresh, empty database (no schema yet), made for one test. */
export interface ContractDatabase {
  /**
   * Opens a new store on this database, as another process would: it migrates the database if
   * needed. Called several times per test (to reopen, and to race stores against each other).
   */
  connect(): Promise<KeyStore>;
  /** Removes the database; called once every store the test opened on it is closed. */
  destroy(): Promise<void>;
}

/** What a backend cannot do by its nature, each with the reason, so the suite skips only that. */
export interface ContractLimits {
  /**
   * Several stores of one process on one database wait for each other's open transactions. An
   * embedded synchronous driver cannot: its lock wait blocks the one thread the holder needs.
   */
  sameProcessStoresWait?: false;
}

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);
const HOUR = 3_600_000;

let serial = 0;
const nextId = (prefix: string) => `${prefix}_${String(++serial).padStart(5, '0')}`;

function anOrg(overrides: Partial<Organization> = {}): Organization {
  const id = overrides.id ?? nextId('org');
  return { id, name: `Org ${id}`, plan: 'free', requests_per_hour: null, max_concurrency: null, created_at: T0, ...overrides };
}

function aKey(org: Organization, overrides: Partial<KeyRecord> = {}): KeyRecord {
  const id = overrides.id ?? nextId('key');
  return {
    id,
    org_id: org.id,
    hash: `hash-of-${id}`,
    start: 'pk_live_abcd',
    name: `Key ${id}`,
    environment: 'live',
    permissions: ['keys:read'],
    allowed_ips: [],
    expires_at: null,
    enabled: true,
    revoked_at: null,
    rate_limit: null,
    created_at: T0,
    updated_at: T0,
    last_used_at: null,
    created_by: null,
    rotated_from: null,
    rotated_to: null,
    ...overrides,
  };
}

function aSigningKey(overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return { kid: overrides.kid ?? nextId('kid'), alg: 'HS256', secret: `secret-${++serial}`, created_at: T0, retired_at: null, ...overrides };
}

function anEvent(key: KeyRecord, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { org_id: key.org_id, key_id: key.id, actor_key_id: null, action: 'created', details: { name: key.name }, at: T0, ...overrides };
}

function usage(count: number, window = T0): Usage {
  return { hour_window: window, hour_count: count, own_window: window, own_count: count };
}

/** One gate flush that charges nothing but writes `counts` for one key. */
function charge(store: KeyStore, keyId: string, counts: Usage, at: number): Promise<unknown[]> {
  return store.chargeBatch([{ id: keyId }], () => ({ results: [], usage: new Map([[keyId, counts]]) }), at);
}

/** A read-modify-write of a key's counters: answers the count it wrote. */
function increment(store: KeyStore, ref: KeyRef, at: number): Promise<number[]> {
  return store.chargeBatch(
    [ref],
    ([found]) => {
      if (!found) throw new Error('the key to charge is gone');
      const next = { ...found.usage, hour_count: found.usage.hour_count + 1, own_count: found.usage.own_count + 1 };
      return { results: [next.hour_count], usage: new Map([[found.key.id, next]]) };
    },
    at,
  );
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Gives every other pending call several turns of the event loop, so one that does not wait would run now. */
async function yieldTurns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

const ids = (keys: readonly KeyRecord[]) => keys.map((k) => k.id);
/** The ids of keys made oldest first, as a list answers them: newest first. */
const newestIds = (keys: readonly KeyRecord[]) => ids(keys).reverse();

/**
 * What a call issued during a transaction ended with, held from the moment it is issued: a backend
 * that fails such a call early then fails the test's assertion, not as an unhandled rejection.
 */
function outcome<T>(call: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

export function describeStoreContract(name: string, createDatabase: () => Promise<ContractDatabase>, limits: ContractLimits = {}): void {
  const acrossStores = limits.sameProcessStoresWait === false ? it.skip : it;
  describe(`${name}: the KeyStore contract`, () => {
    let database: ContractDatabase;
    const opened = new Set<KeyStore>();

    /** A store on this test's database, closed after the test. */
    const connect = async (): Promise<KeyStore> => {
      const store = await database.connect();
      opened.add(store);
      return store;
    };
    const close = async (store: KeyStore): Promise<void> => {
      opened.delete(store);
      await store.close();
    };

    beforeEach(async () => {
      database = await createDatabase();
    });
    afterEach(async () => {
      for (const store of opened) await store.close();
      opened.clear();
      await database.destroy();
    });

    describe('opening a database', () => {
      it('opens a new database empty', async () => {
        const store = await connect();
        expect(await store.hasOrganizations()).toBe(false);
        expect(await store.getOrganization('org_any')).toBeUndefined();
        expect(await store.findByHash('hash_any')).toBeUndefined();
        expect(await store.listSigningKeys()).toEqual([]);
      });

      it('keeps every record across closing the database and opening it again', async () => {
        const first = await connect();
        const org = anOrg({ plan: 'enterprise', requests_per_hour: 5_000, max_concurrency: 7 });
        const live = aKey(org, { permissions: ['admin'], allowed_ips: ['10.0.0.0/8'], rate_limit: { max: 10, window_ms: 60_000 } });
        const revoked = aKey(org, { created_at: T0 - 1 });
        const signing = aSigningKey();
        await first.insertOrganization(org);
        await first.insertKey(live);
        await first.insertKey(revoked);
        await first.revokeKey(revoked.id, T0 + 5);
        await first.appendAudit(anEvent(live));
        await first.insertSigningKey(signing);
        await charge(first, live.id, usage(3), T0 + 9);
        await close(first);

        const again = await connect();
        expect(await again.hasOrganizations()).toBe(true);
        expect(await again.getOrganization(org.id)).toEqual(org);
        expect(await again.findByHash(live.hash)).toEqual({ key: { ...live, last_used_at: T0 + 9 }, org, usage: usage(3) });
        expect(await again.getKey(org.id, revoked.id)).toEqual({ ...revoked, revoked_at: T0 + 5, updated_at: T0 + 5 });
        expect(await again.listSigningKeys()).toEqual([signing]);
      });

      it('opens a database another store has open and migrated, keeping its data', async () => {
        const first = await connect();
        const org = anOrg();
        await first.insertOrganization(org);
        const second = await connect();
        expect(await second.getOrganization(org.id)).toEqual(org);
        const key = aKey(org);
        await second.insertKey(key);
        expect(await first.getKey(org.id, key.id)).toEqual(key);
      });

      it('lets two stores open the same new database at once, both working on the same data', async () => {
        const [a, b] = await Promise.all([connect(), connect()]);
        expect(await a.hasOrganizations()).toBe(false);
        expect(await b.hasOrganizations()).toBe(false);
        const org = anOrg();
        await a.insertOrganization(org);
        expect(await b.getOrganization(org.id)).toEqual(org);
        const key = aKey(org);
        await b.insertKey(key);
        expect((await a.findByHash(key.hash))?.key).toEqual(key);
      });

      it('opens the database again after several stores migrated it, keeping its data', async () => {
        const org = anOrg();
        const stores = await Promise.all([connect(), connect(), connect()]);
        await stores[0]!.insertOrganization(org);
        for (const s of stores) await close(s);
        const again = await connect();
        expect(await again.getOrganization(org.id)).toEqual(org);
      });
    });

    describe('with a store open', () => {
      let store: KeyStore;
      beforeEach(async () => {
        store = await connect();
      });

      /** An organization, stored. */
      const org = async (overrides: Partial<Organization> = {}): Promise<Organization> => {
        const o = anOrg(overrides);
        await store.insertOrganization(o);
        return o;
      };
      /** A key, stored. */
      const key = async (owner: Organization, overrides: Partial<KeyRecord> = {}): Promise<KeyRecord> => {
        const k = aKey(owner, overrides);
        await store.insertKey(k);
        return k;
      };

      describe('organizations', () => {
        it('reads back an organization as it was inserted', async () => {
          const free = await org();
          const enterprise = await org({ plan: 'enterprise', requests_per_hour: 250_000, max_concurrency: 400, created_at: T0 + 1 });
          expect(await store.getOrganization(free.id)).toEqual(free);
          expect(await store.getOrganization(enterprise.id)).toEqual(enterprise);
        });

        it('answers undefined for an unknown organization', async () => {
          await org();
          expect(await store.getOrganization('org_unknown')).toBeUndefined();
        });

        it('tells whether any organization exists', async () => {
          expect(await store.hasOrganizations()).toBe(false);
          await org();
          expect(await store.hasOrganizations()).toBe(true);
        });

        it('refuses a second organization with the same id, keeping the first', async () => {
          const first = await org();
          await expect(store.insertOrganization({ ...first, name: 'Impostor' })).rejects.toThrow();
          expect(await store.getOrganization(first.id)).toEqual(first);
        });
      });

      describe('keys', () => {
        it('reads back a key as it was inserted, by hash, by id and in its organization', async () => {
          const o = await org();
          const creator = await key(o, { permissions: ['admin'] });
          const k = await key(o, {
            environment: 'test',
            start: 'pk_test_wxyz',
            permissions: ['keys:read', 'keys:write'],
            allowed_ips: ['192.0.2.0/24', '2001:db8::/32'],
            expires_at: T0 + HOUR,
            enabled: false,
            rate_limit: { max: 5, window_ms: 1_000 },
            created_at: T0 + 1,
            updated_at: T0 + 2,
            created_by: creator.id,
            rotated_from: creator.id,
          });
          expect(await store.getKey(o.id, k.id)).toEqual(k);
          expect(await store.findByHash(k.hash)).toEqual({ key: k, org: o, usage: EMPTY_USAGE });
          expect(await store.findById(k.id)).toEqual({ key: k, org: o, usage: EMPTY_USAGE });
        });

        it('joins the key’s organization and its persisted usage to a lookup', async () => {
          const o = await org({ plan: 'pro' });
          const k = await key(o);
          await charge(store, k.id, { hour_window: T0, hour_count: 4, own_window: T0 + 60_000, own_count: 2 }, T0 + 61_000);
          const expected: KeyLookup = {
            key: { ...k, last_used_at: T0 + 61_000 },
            org: o,
            usage: { hour_window: T0, hour_count: 4, own_window: T0 + 60_000, own_count: 2 },
          };
          expect(await store.findByHash(k.hash)).toEqual(expected);
          expect(await store.findById(k.id)).toEqual(expected);
        });

        it('answers undefined for an unknown hash or id', async () => {
          const o = await org();
          await key(o);
          expect(await store.findByHash('hash_unknown')).toBeUndefined();
          expect(await store.findById('key_unknown')).toBeUndefined();
          expect(await store.getKey(o.id, 'key_unknown')).toBeUndefined();
        });

        it('answers undefined for another organization’s key', async () => {
          const mine = await org();
          const theirs = await org();
          const k = await key(theirs);
          expect(await store.getKey(mine.id, k.id)).toBeUndefined();
          expect(await store.getKey(theirs.id, k.id)).toEqual(k);
        });

        it('finds a key by id whatever its organization', async () => {
          const a = await org();
          const b = await org();
          const k = await key(b);
          expect((await store.findById(k.id))?.org).toEqual(b);
          expect((await store.findById(k.id))?.org).not.toEqual(a);
        });

        it('refuses a key for an unknown organization, storing nothing', async () => {
          const orphan = aKey(anOrg({ id: 'org_nobody' }));
          await expect(store.insertKey(orphan)).rejects.toThrow();
          expect(await store.findById(orphan.id)).toBeUndefined();
          expect(await store.findByHash(orphan.hash)).toBeUndefined();
        });

        it('refuses a second key with the same hash, keeping the first', async () => {
          const o = await org();
          const first = await key(o);
          await expect(store.insertKey(aKey(o, { hash: first.hash }))).rejects.toThrow();
          expect((await store.findByHash(first.hash))?.key).toEqual(first);
        });

        it('refuses a second key with the same id, keeping the first', async () => {
          const o = await org();
          const first = await key(o);
          await expect(store.insertKey(aKey(o, { id: first.id, hash: 'hash_other' }))).rejects.toThrow();
          expect(await store.getKey(o.id, first.id)).toEqual(first);
          expect(await store.findByHash('hash_other')).toBeUndefined();
        });

        it('hands out records a caller may change without changing what is stored', async () => {
          const o = await org();
          const k = await key(o, { permissions: ['keys:read'], allowed_ips: ['10.0.0.1'], rate_limit: { max: 1, window_ms: 1_000 } });
          const page = { limit: 10, includeRevoked: false };
          for (const read of [() => store.getKey(o.id, k.id), async () => (await store.listKeys(o.id, page))[0], async () => (await store.findByHash(k.hash))?.key]) {
            const got = (await read())!;
            got.permissions.push('admin');
            got.allowed_ips.length = 0;
            if (got.rate_limit) got.rate_limit.max = 1_000;
            got.name = 'changed';
          }
          expect(await store.getKey(o.id, k.id)).toEqual(k);
          expect(await store.listKeys(o.id, page)).toEqual([k]);
          expect((await store.findByHash(k.hash))?.key).toEqual(k);
        });
      });

      describe('listing keys', () => {
        it('lists newest first, keys created at the same time by id descending', async () => {
          const o = await org();
          await key(o, { id: 'key_b', created_at: T0 });
          await key(o, { id: 'key_a', created_at: T0 + 1 });
          await key(o, { id: 'key_d', created_at: T0 });
          await key(o, { id: 'key_c', created_at: T0 - 1 });
          expect(ids(await store.listKeys(o.id, { limit: 10, includeRevoked: false }))).toEqual(['key_a', 'key_d', 'key_b', 'key_c']);
        });

        it('pages with after and limit, every key once and in order', async () => {
          const o = await org();
          const created = [T0, T0, T0 + 1, T0 - 5, T0, T0 + 1, T0 - 5];
          for (const [i, at] of created.entries()) await key(o, { id: `key_${i}`, created_at: at });
          const all = await store.listKeys(o.id, { limit: 100, includeRevoked: false });
          expect(ids(all)).toEqual(['key_5', 'key_2', 'key_4', 'key_1', 'key_0', 'key_6', 'key_3']);

          const paged: KeyRecord[] = [];
          let after: { created_at: number; id: string } | undefined;
          for (;;) {
            const page = await store.listKeys(o.id, { limit: 3, includeRevoked: false, ...(after ? { after } : {}) });
            expect(page.length).toBeLessThanOrEqual(3);
            paged.push(...page);
            const last = page.at(-1);
            if (page.length < 3 || !last) break;
            after = { created_at: last.created_at, id: last.id };
          }
          expect(ids(paged)).toEqual(ids(all));
        });

        it('answers only keys strictly older than after', async () => {
          const o = await org();
          await key(o, { id: 'key_x', created_at: T0 });
          await key(o, { id: 'key_y', created_at: T0 });
          await key(o, { id: 'key_z', created_at: T0 + 1 });
          const page = (after: { created_at: number; id: string }) => store.listKeys(o.id, { after, limit: 10, includeRevoked: false });
          expect(ids(await page({ created_at: T0 + 1, id: 'key_z' }))).toEqual(['key_y', 'key_x']);
          expect(ids(await page({ created_at: T0, id: 'key_y' }))).toEqual(['key_x']);
          expect(ids(await page({ created_at: T0, id: 'key_x' }))).toEqual([]);
        });

        it('answers an empty page for an organization without keys, or an unknown one', async () => {
          const o = await org();
          expect(await store.listKeys(o.id, { limit: 10, includeRevoked: true })).toEqual([]);
          expect(await store.listKeys('org_unknown', { limit: 10, includeRevoked: true })).toEqual([]);
        });

        it('leaves revoked keys out unless asked for them', async () => {
          const o = await org();
          await key(o, { id: 'key_live', created_at: T0 });
          await key(o, { id: 'key_gone', created_at: T0 + 1 });
          expect(await store.revokeKey('key_gone', T0 + 2)).toBe(true);
          expect(ids(await store.listKeys(o.id, { limit: 10, includeRevoked: false }))).toEqual(['key_live']);
          const all = await store.listKeys(o.id, { limit: 10, includeRevoked: true });
          expect(ids(all)).toEqual(['key_gone', 'key_live']);
          expect(all[0]?.revoked_at).toBe(T0 + 2);
        });

        it('lists only the organization’s own keys', async () => {
          const mine = await org();
          const theirs = await org();
          await key(mine, { id: 'key_mine' });
          await key(theirs, { id: 'key_theirs' });
          expect(ids(await store.listKeys(mine.id, { limit: 10, includeRevoked: true }))).toEqual(['key_mine']);
          expect(ids(await store.listKeys(theirs.id, { limit: 10, includeRevoked: true }))).toEqual(['key_theirs']);
        });

        it('shows each key’s last use as its latest charge stamped it', async () => {
          const o = await org();
          const used = await key(o, { created_at: T0 + 1 });
          const idle = await key(o, { created_at: T0 });
          const page = { limit: 10, includeRevoked: false };
          expect((await store.listKeys(o.id, page)).map((k) => k.last_used_at)).toEqual([null, null]);
          await charge(store, used.id, usage(1), T0 + 100);
          expect(await store.listKeys(o.id, page)).toEqual([{ ...used, last_used_at: T0 + 100 }, idle]);
          await charge(store, used.id, usage(2), T0 + 200);
          expect((await store.listKeys(o.id, page)).map((k) => k.last_used_at)).toEqual([T0 + 200, null]);
          expect((await store.getKey(o.id, used.id))?.last_used_at).toBe(T0 + 200);
          expect((await store.getKey(o.id, idle.id))?.last_used_at).toBeNull();
        });

        it('shows a change to a listed key at once', async () => {
          const o = await org();
          const k = await key(o);
          const page = { limit: 10, includeRevoked: false };
          expect(await store.listKeys(o.id, page)).toEqual([k]);
          await store.updateKey(k.id, { name: 'renamed', at: T0 + 1 });
          expect((await store.listKeys(o.id, page)).map((x) => x.name)).toEqual(['renamed']);
          await store.revokeKey(k.id, T0 + 2);
          expect(await store.listKeys(o.id, page)).toEqual([]);
        });
      });

      describe('guarded updates', () => {
        it('revokes a live key once: a second revoke answers false and keeps the first time', async () => {
          const o = await org();
          const k = await key(o);
          expect(await store.revokeKey(k.id, T0 + 10)).toBe(true);
          expect(await store.revokeKey(k.id, T0 + 20)).toBe(false);
          expect(await store.getKey(o.id, k.id)).toEqual({ ...k, revoked_at: T0 + 10, updated_at: T0 + 10 });
        });

        it('answers false for every guarded write to an unknown key', async () => {
          await org();
          expect(await store.revokeKey('key_unknown', T0)).toBe(false);
          expect(await store.updateKey('key_unknown', { name: 'x', at: T0 })).toBe(false);
          expect(await store.rotateKey('key_unknown', { rotated_to: 'key_other', expires_at: null, revoked_at: null, at: T0 })).toBe(false);
        });

        it('updates name and enabled each on its own, stamping updated_at', async () => {
          const o = await org();
          const k = await key(o, { name: 'before', enabled: true });
          expect(await store.updateKey(k.id, { name: 'after', at: T0 + 1 })).toBe(true);
          expect(await store.getKey(o.id, k.id)).toEqual({ ...k, name: 'after', updated_at: T0 + 1 });
          expect(await store.updateKey(k.id, { enabled: false, at: T0 + 2 })).toBe(true);
          expect(await store.getKey(o.id, k.id)).toEqual({ ...k, name: 'after', enabled: false, updated_at: T0 + 2 });
          expect(await store.updateKey(k.id, { name: 'both', enabled: true, at: T0 + 3 })).toBe(true);
          expect(await store.getKey(o.id, k.id)).toEqual({ ...k, name: 'both', enabled: true, updated_at: T0 + 3 });
        });

        it('refuses to update a revoked key, leaving it as it was', async () => {
          const o = await org();
          const k = await key(o);
          await store.revokeKey(k.id, T0 + 1);
          expect(await store.updateKey(k.id, { name: 'late', enabled: false, at: T0 + 2 })).toBe(false);
          expect(await store.getKey(o.id, k.id)).toEqual({ ...k, revoked_at: T0 + 1, updated_at: T0 + 1 });
        });

        it('rotates a live key once, linking its successor and ending it', async () => {
          const o = await org();
          const old = await key(o);
          const next = await key(o, { rotated_from: old.id });
          const other = await key(o);
          expect(await store.rotateKey(old.id, { rotated_to: next.id, expires_at: T0 + HOUR, revoked_at: null, at: T0 + 5 })).toBe(true);
          expect(await store.getKey(o.id, old.id)).toEqual({ ...old, rotated_to: next.id, expires_at: T0 + HOUR, updated_at: T0 + 5 });
          expect(await store.rotateKey(old.id, { rotated_to: other.id, expires_at: T0 + 2 * HOUR, revoked_at: null, at: T0 + 6 })).toBe(false);
          expect((await store.getKey(o.id, old.id))?.rotated_to).toBe(next.id);
          // A rotated key still in its grace period may be revoked.
          expect(await store.revokeKey(old.id, T0 + 7)).toBe(true);
        });

        it('rotates with no grace by revoking the key at once', async () => {
          const o = await org();
          const old = await key(o);
          const next = await key(o);
          expect(await store.rotateKey(old.id, { rotated_to: next.id, expires_at: null, revoked_at: T0 + 5, at: T0 + 5 })).toBe(true);
          expect(await store.getKey(o.id, old.id)).toEqual({ ...old, rotated_to: next.id, revoked_at: T0 + 5, updated_at: T0 + 5 });
          expect(await store.revokeKey(old.id, T0 + 6)).toBe(false);
        });

        it('refuses to rotate a revoked key, leaving it as it was', async () => {
          const o = await org();
          const k = await key(o);
          const next = await key(o);
          await store.revokeKey(k.id, T0 + 1);
          expect(await store.rotateKey(k.id, { rotated_to: next.id, expires_at: T0 + HOUR, revoked_at: null, at: T0 + 2 })).toBe(false);
          expect(await store.getKey(o.id, k.id)).toEqual({ ...k, revoked_at: T0 + 1, updated_at: T0 + 1 });
        });
      });

      describe('the audit log', () => {
        it('appends any number of events for a key', async () => {
          const o = await org();
          const actor = await key(o);
          const k = await key(o);
          await expect(store.appendAudit(anEvent(k, { actor_key_id: actor.id }))).resolves.toBeUndefined();
          await expect(store.appendAudit(anEvent(k, { action: 'updated', details: { name: { from: 'a', to: 'b' } } }))).resolves.toBeUndefined();
          await expect(store.appendAudit(anEvent(k, { action: 'updated', details: { name: { from: 'a', to: 'b' } } }))).resolves.toBeUndefined();
          await expect(store.appendAudit(anEvent(k, { action: 'revoked', at: T0 + 1 }))).resolves.toBeUndefined();
        });

        it('refuses an event naming an unknown key or organization', async () => {
          const o = await org();
          const k = await key(o);
          await expect(store.appendAudit(anEvent(k, { key_id: 'key_unknown' }))).rejects.toThrow();
          await expect(store.appendAudit(anEvent(k, { org_id: 'org_unknown' }))).rejects.toThrow();
        });
      });

      describe('filtering listed keys', () => {
        it('filters by environment, a case-insensitive substring of the name and unused_since, paging in the same order', async () => {
          const o = await org();
          const other = await org();
          const made: KeyRecord[] = [];
          for (let i = 0; i < 8; i++) {
            made.push(await key(o, { name: i % 2 ? `Billing worker ${i}` : `CI runner ${i}`, environment: i % 3 ? 'live' : 'test', created_at: T0 + i }));
          }
          await key(other, { name: 'Billing elsewhere' });
          // Keys 4 and 5 were used at T0 + HOUR; the others never.
          await store.chargeBatch([{ id: made[4]!.id }, { id: made[5]!.id }], () => ({ results: [], usage: new Map([[made[4]!.id, usage(1)], [made[5]!.id, usage(1)]]) }), T0 + HOUR);
          const list = (options: Partial<Parameters<KeyStore['listKeys']>[1]>) => store.listKeys(o.id, { limit: 10, includeRevoked: false, ...options }).then(ids);
          const newestFirst = (keep: (k: KeyRecord, i: number) => boolean) => made.filter(keep).map((k) => k.id).reverse();
          expect(await list({ environment: 'test' })).toEqual(newestFirst((_k, i) => i % 3 === 0));
          expect(await list({ name: 'BILLING' })).toEqual(newestFirst((_k, i) => i % 2 === 1));
          expect(await list({ name: 'ng w' })).toEqual(newestFirst((_k, i) => i % 2 === 1));
          expect(await list({ name: 'r' })).toEqual(newestFirst(() => true));
          expect(await list({ unusedSince: T0 + HOUR })).toEqual(newestFirst((_k, i) => i !== 4 && i !== 5));
          expect(await list({ unusedSince: T0 + HOUR + 1 })).toEqual(newestFirst(() => true));
          expect(await list({ name: 'billing', environment: 'live', unusedSince: T0 + HOUR })).toEqual(newestFirst((_k, i) => i % 2 === 1 && i % 3 !== 0 && i !== 5));
          const first = await store.listKeys(o.id, { limit: 2, includeRevoked: false, name: 'billing' });
          const next = await store.listKeys(o.id, { limit: 10, includeRevoked: false, name: 'billing', after: first[1]! });
          expect([...ids(first), ...ids(next)]).toEqual(newestFirst((_k, i) => i % 2 === 1));
        });

        it('finds a renamed key by its new name only', async () => {
          const o = await org();
          const k = await key(o, { name: 'old name' });
          await store.updateKey(k.id, { name: 'fresh label', at: T0 + 1 });
          expect(ids(await store.listKeys(o.id, { limit: 10, includeRevoked: false, name: 'old name' }))).toEqual([]);
          expect(ids(await store.listKeys(o.id, { limit: 10, includeRevoked: false, name: 'FRESH' }))).toEqual([k.id]);
        });
      });

      describe('listing keys by state', () => {
        /** One key of each kind, oldest first: active, disabled, expired (at T0 + 10), disabled and expired, revoked, rotated in grace. */
        const kinds = async () => {
          const o = await org();
          const active = await key(o, { created_at: T0 + 1, expires_at: T0 + HOUR });
          const disabled = await key(o, { created_at: T0 + 2, enabled: false });
          const expired = await key(o, { created_at: T0 + 3, expires_at: T0 + 10 });
          const both = await key(o, { created_at: T0 + 4, enabled: false, expires_at: T0 + 10 });
          const revoked = await key(o, { created_at: T0 + 5, enabled: false, expires_at: T0 + 10 });
          await store.revokeKey(revoked.id, T0 + 6);
          const forever = await key(o, { created_at: T0 + 6 });
          const successor = await key(o, { created_at: T0 + 7 });
          expect(await store.rotateKey(forever.id, { rotated_to: successor.id, expires_at: T0 + 20, revoked_at: null, at: T0 + 7 })).toBe(true);
          return { o, active, disabled, expired, both, revoked, forever, successor };
        };

        it('lists each state: active, disabled, expired and revoked', async () => {
          const k = await kinds();
          const list = (state: KeyState, now = T0 + 15) => store.listKeys(k.o.id, { limit: 10, includeRevoked: false, state, now }).then(ids);
          expect(await list('active')).toEqual(ids([k.successor, k.forever, k.active]));
          expect(await list('disabled')).toEqual(ids([k.both, k.disabled]));
          expect(await list('expired')).toEqual(ids([k.both, k.expired]));
          expect(await list('revoked')).toEqual(ids([k.revoked]));
          // The rotated key's grace ends at T0 + 20.
          expect(await list('expired', T0 + 20)).toEqual(ids([k.forever, k.both, k.expired]));
        });

        it('judges expiry at the time it is given: a key expires by time alone', async () => {
          const k = await kinds();
          const list = (state: KeyState, now: number) => store.listKeys(k.o.id, { limit: 10, includeRevoked: false, state, now }).then(ids);
          expect(await list('active', T0 + 9)).toContain(k.expired.id);
          expect(await list('expired', T0 + 9)).toEqual([]);
          expect(await list('active', T0 + 10)).not.toContain(k.expired.id);
          expect(await list('expired', T0 + 10)).toEqual(ids([k.both, k.expired]));
          for (const state of ['active', 'expired'] as const) {
            await expect(store.listKeys(k.o.id, { limit: 10, includeRevoked: false, state }), state).rejects.toThrow(/needs the time/);
          }
        });

        it('lists revoked keys for state revoked without include_revoked; include_revoked changes no other state', async () => {
          const k = await kinds();
          for (const state of ['active', 'disabled', 'expired', 'revoked'] as const) {
            const without = await store.listKeys(k.o.id, { limit: 10, includeRevoked: false, state, now: T0 + 15 });
            const with_ = await store.listKeys(k.o.id, { limit: 10, includeRevoked: true, state, now: T0 + 15 });
            expect(ids(with_), state).toEqual(ids(without));
          }
          expect((await store.listKeys(k.o.id, { limit: 10, includeRevoked: false, state: 'revoked' }))[0]?.revoked_at).toBe(T0 + 6);
        });

        it('pages a state with after and limit, combines it with the other filters, and keeps to the organization', async () => {
          const o = await org();
          const other = await org();
          const made: KeyRecord[] = [];
          for (let i = 0; i < 7; i++) {
            made.push(await key(o, { created_at: T0 + i, enabled: i % 2 === 0, environment: i % 3 ? 'live' : 'test', name: i < 4 ? `old ${i}` : `new ${i}` }));
          }
          await key(other, { enabled: false });
          const disabled = newestIds(made.filter((_k, i) => i % 2 === 1));
          const paged: string[] = [];
          let after: { created_at: number; id: string } | undefined;
          for (;;) {
            const page = await store.listKeys(o.id, { limit: 2, includeRevoked: false, state: 'disabled', ...(after ? { after } : {}) });
            paged.push(...ids(page));
            const last = page.at(-1);
            if (page.length < 2 || !last) break;
            after = { created_at: last.created_at, id: last.id };
          }
          expect(paged).toEqual(disabled);
          const list = (options: Partial<Parameters<KeyStore['listKeys']>[1]>) => store.listKeys(o.id, { limit: 10, includeRevoked: false, state: 'disabled', ...options }).then(ids);
          expect(await list({ environment: 'test' })).toEqual(newestIds(made.filter((_k, i) => i % 2 === 1 && i % 3 === 0)));
          expect(await list({ name: 'new' })).toEqual(newestIds(made.filter((_k, i) => i % 2 === 1 && i >= 4)));
          expect(await list({ unusedSince: T0 + HOUR })).toEqual(disabled);
          const active = made.filter((_k, i) => i % 2 === 0);
          expect(await list({ state: 'active', now: T0 })).toEqual(newestIds(active));
          expect(await list({ state: 'active', now: T0, unusedSince: T0 + HOUR })).toEqual(newestIds(active));
          expect(await list({ state: 'active', now: T0, environment: 'live', name: 'old' })).toEqual(newestIds(made.filter((_k, i) => i % 2 === 0 && i % 3 !== 0 && i < 4)));
        });
      });

      describe('reading the audit trail', () => {
        it('lists an organization’s events newest first with their public type, filtered by key and type, a keyset page at a time', async () => {
          const o = await org();
          const other = await org();
          const a = await key(o);
          const b = await key(o);
          const theirs = await key(other);
          await store.appendAudit(anEvent(a, { actor_key_id: b.id }));
          await store.appendAudit(anEvent(a, { action: 'updated', details: { enabled: false }, at: T0 + 1 }));
          await store.appendAudit(anEvent(a, { action: 'updated', details: { enabled: true }, at: T0 + 2 }));
          await store.appendAudit(anEvent(b, { action: 'updated', details: { name: 'x' }, at: T0 + 3 }));
          await store.appendAudit(anEvent(theirs));
          const all = await store.listEvents(o.id, { limit: 10 });
          expect(all.map((e) => [e.key_id, e.type])).toEqual([
            [b.id, 'key.updated'],
            [a.id, 'key.enabled'],
            [a.id, 'key.disabled'],
            [a.id, 'key.created'],
          ]);
          expect(all[3]).toMatchObject({ actor_key_id: b.id, details: { name: a.name }, at: T0, org_id: o.id });
          expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((x, y) => y - x));
          expect((await store.listEvents(o.id, { keyId: a.id, limit: 10 })).map((e) => e.type)).toEqual(['key.enabled', 'key.disabled', 'key.created']);
          expect((await store.listEvents(o.id, { type: 'key.disabled', limit: 10 })).map((e) => e.key_id)).toEqual([a.id]);
          const page = await store.listEvents(o.id, { limit: 2 });
          const next = await store.listEvents(o.id, { beforeId: page[1]!.id, limit: 2 });
          expect([...page, ...next].map((e) => e.id)).toEqual(all.map((e) => e.id));
          expect(await store.listEvents(o.id, { keyId: theirs.id, limit: 10 })).toEqual([]);
        });

        it('records a sign-in as a session.created event of the key that signed in', async () => {
          const o = await org();
          const k = await key(o);
          await store.appendAudit(anEvent(k, { action: 'updated', details: { name: 'x' } }));
          await store.appendAudit({ org_id: o.id, key_id: k.id, actor_key_id: k.id, action: 'signed_in', details: {}, at: T0 + 1 });
          const signIns = await store.listEvents(o.id, { type: 'session.created', limit: 10 });
          expect(signIns).toEqual([{ id: expect.any(Number), org_id: o.id, key_id: k.id, actor_key_id: k.id, action: 'signed_in', details: {}, at: T0 + 1, type: 'session.created' }]);
          expect((await store.listEvents(o.id, { keyId: k.id, limit: 10 })).map((e) => e.type)).toEqual(['session.created', 'key.updated']);
        });
      });

      describe('usage buckets', () => {
        const outcomes = (o: Organization, k: KeyRecord, admitted: number, rate_limited = 0, denied = 0) =>
          new Map([[k.id, { org_id: o.id, admitted, rate_limited, denied }]]);
        const record = (k: KeyRecord, counts: ReturnType<typeof outcomes>, at: number) =>
          store.chargeBatch([{ id: k.id }], () => ({ results: [], usage: new Map(), outcomes: counts }), at);

        it('adds each batch’s outcomes to the bucket of its hour, per key, and sums the organization', async () => {
          const o = await org();
          const a = await key(o);
          const b = await key(o);
          await record(a, outcomes(o, a, 2, 1, 0), T0 + 10);
          await record(a, outcomes(o, a, 3, 0, 1), T0 + HOUR - 1);
          await record(a, outcomes(o, a, 1), T0 + HOUR);
          await record(b, outcomes(o, b, 9), T0 + 5);
          expect(await store.usageBuckets(o.id, { keyId: a.id, from: T0, to: T0 + 2 * HOUR })).toEqual([
            { hour: T0, admitted: 5, rate_limited: 1, denied: 1 },
            { hour: T0 + HOUR, admitted: 1, rate_limited: 0, denied: 0 },
          ]);
          expect(await store.usageBuckets(o.id, { from: T0, to: T0 + HOUR })).toEqual([{ hour: T0, admitted: 14, rate_limited: 1, denied: 1 }]);
          expect((await store.topKeys(o.id, { from: T0, to: T0 + 2 * HOUR, limit: 1 })).map((t) => [t.key_id, t.admitted])).toEqual([[b.id, 9]]);
          // Another organization reads nothing of these, even naming the key.
          const other = await org();
          expect(await store.usageBuckets(other.id, { keyId: a.id, from: T0, to: T0 + 2 * HOUR })).toEqual([]);
          expect(await store.pruneUsage(T0 + HOUR)).toBe(2);
          expect(await store.usageBuckets(o.id, { from: T0, to: T0 + 2 * HOUR })).toEqual([{ hour: T0 + HOUR, admitted: 1, rate_limited: 0, denied: 0 }]);
        });
      });

      describe('reveals', () => {
        const aReveal = (overrides: Partial<RevealRecord> = {}): RevealRecord => ({ id: nextId('reveal'), sealed: 'c2VhbGVk', expires_at: T0 + 600_000, created_at: T0, ...overrides });

        it('answers a waiting reveal once, then never again', async () => {
          const r = aReveal();
          await store.insertReveal(r);
          expect(await store.hasReveal(r.id, T0 + 1)).toBe(true);
          expect(await store.takeReveal(r.id, T0 + 1)).toEqual(r);
          expect(await store.takeReveal(r.id, T0 + 2)).toBeUndefined();
          expect(await store.hasReveal(r.id, T0 + 2)).toBe(false);
        });

        it('answers nothing for an expired reveal, and forgets it', async () => {
          const r = aReveal({ expires_at: T0 + 10 });
          await store.insertReveal(r);
          expect(await store.hasReveal(r.id, T0 + 10)).toBe(false);
          expect(await store.takeReveal(r.id, T0 + 10)).toBeUndefined();
          expect(await store.hasReveal(r.id, T0)).toBe(false);
        });

        it('forgets expired reveals when another is stored', async () => {
          const old = aReveal({ expires_at: T0 + 10 });
          await store.insertReveal(old);
          await store.insertReveal(aReveal({ created_at: T0 + 20, expires_at: T0 + 600_020 }));
          expect(await store.hasReveal(old.id, T0)).toBe(false);
        });

        it('gives a reveal to exactly one of two stores taking it at once', async () => {
          const other = await connect();
          const r = aReveal();
          await store.insertReveal(r);
          const taken = await Promise.all([store.takeReveal(r.id, T0 + 1), other.takeReveal(r.id, T0 + 1)]);
          expect(taken.filter((t) => t !== undefined)).toEqual([r]);
        });

        it('stores a reveal with the key it delivers in one transaction: either refused, neither is kept', async () => {
          const o = await org();
          const taken = aReveal();
          await store.insertReveal(taken);
          const k = aKey(o);
          // The reveal refused (its id is taken): the key inserted before it is gone too.
          await expect(
            store.transaction(async (tx) => {
              await tx.insertKey(k);
              await tx.insertReveal(aReveal({ id: taken.id }));
            }),
          ).rejects.toThrow();
          expect(await store.findById(k.id)).toBeUndefined();
          expect(await store.takeReveal(taken.id, T0 + 1)).toEqual(taken);
          // The key refused (its id is taken): the reveal inserted before it is gone too.
          const r = aReveal();
          await key(o, { id: k.id });
          await expect(
            store.transaction(async (tx) => {
              await tx.insertReveal(r);
              await tx.insertKey(aKey(o, { id: k.id }));
            }),
          ).rejects.toThrow();
          expect(await store.hasReveal(r.id, T0 + 1)).toBe(false);
          // Both accepted: both kept.
          const next = aKey(o);
          await store.transaction(async (tx) => {
            await tx.insertKey(next);
            await tx.insertReveal(r);
          });
          expect(await store.findById(next.id)).toMatchObject({ key: next });
          expect(await store.takeReveal(r.id, T0 + 1)).toEqual(r);
        });

        it('answers nothing for an unknown id', async () => {
          expect(await store.takeReveal('unknown', T0)).toBeUndefined();
          expect(await store.hasReveal('unknown', T0)).toBe(false);
        });
      });

      describe('dashboard sessions', () => {
        const aSession = (k: KeyRecord, overrides: Partial<SessionRecord> = {}): SessionRecord => ({
          id: nextId('session'),
          org_id: k.org_id,
          key_id: k.id,
          created_at: T0,
          expires_at: T0 + HOUR,
          ...overrides,
        });

        it('stores a session, touches it forward, and ends it once', async () => {
          const k = await key(await org());
          const s = aSession(k);
          await store.insertSession(s);
          expect(await store.touchSession(s.id, T0 + 1, T0 + 1 + HOUR)).toEqual({ ...s, expires_at: T0 + 1 + HOUR });
          // Touched forward: alive past its first expiry.
          expect(await store.touchSession(s.id, T0 + HOUR, T0 + 2 * HOUR)).toEqual({ ...s, expires_at: T0 + 2 * HOUR });
          expect(await store.deleteSession(s.id)).toBe(true);
          expect(await store.touchSession(s.id, T0 + HOUR + 1, T0 + 3 * HOUR)).toBeUndefined();
          expect(await store.deleteSession(s.id)).toBe(false);
        });

        it('moves the expiry only when it is before ifBefore, answering the session either way', async () => {
          const k = await key(await org());
          const s = aSession(k);
          await store.insertSession(s);
          // Touched lately: read, not written.
          expect(await store.touchSession(s.id, T0 + 1, T0 + 1 + HOUR, T0 + HOUR)).toEqual(s);
          expect(await store.touchSession(s.id, T0 + 2, T0 + 2 + HOUR, T0 + HOUR + 2)).toEqual({ ...s, expires_at: T0 + 2 + HOUR });
          expect(await store.touchSession(s.id, T0 + 3, T0 + 3 + HOUR, T0 + 2 + HOUR)).toEqual({ ...s, expires_at: T0 + 2 + HOUR });
          expect(await store.touchSession(s.id, T0 + 2 + HOUR, T0 + 3 * HOUR, T0 + 3 * HOUR)).toBeUndefined();
        });

        it('answers undefined for an expired session and does not revive it', async () => {
          const k = await key(await org());
          const s = aSession(k, { expires_at: T0 + 10 });
          await store.insertSession(s);
          expect(await store.touchSession(s.id, T0 + 10, T0 + 10 + HOUR)).toBeUndefined();
          expect(await store.touchSession(s.id, T0 + 11, T0 + 11 + HOUR)).toBeUndefined();
        });

        it('forgets expired sessions when another is stored', async () => {
          const k = await key(await org());
          const old = aSession(k, { expires_at: T0 + 10 });
          const alive = aSession(k, { expires_at: T0 + 100 });
          await store.insertSession(old);
          await store.insertSession(alive);
          await store.insertSession(aSession(k, { created_at: T0 + 20, expires_at: T0 + 20 + HOUR }));
          // Asked as of a time before it expired, the pruned session is gone all the same.
          expect(await store.touchSession(old.id, T0, T0 + 1)).toBeUndefined();
          expect(await store.touchSession(alive.id, T0 + 20, T0 + 100)).toEqual(alive);
        });

        it('refuses a session of an unknown key, or a second one with the same id', async () => {
          const k = await key(await org());
          const s = aSession(k);
          await expect(store.insertSession(aSession(k, { key_id: 'key_unknown' }))).rejects.toThrow();
          await store.insertSession(s);
          await expect(store.insertSession({ ...s, expires_at: T0 + 5 * HOUR })).rejects.toThrow();
          expect(await store.touchSession(s.id, T0 + 1, T0 + HOUR)).toEqual(s);
        });

        it('shows a session to every store on the database: one stores it, the other touches and ends it', async () => {
          const k = await key(await org());
          const other = await connect();
          const s = aSession(k);
          await store.insertSession(s);
          expect(await other.touchSession(s.id, T0 + 1, T0 + 2 * HOUR)).toEqual({ ...s, expires_at: T0 + 2 * HOUR });
          expect(await store.touchSession(s.id, T0 + HOUR, T0 + 3 * HOUR)).toEqual({ ...s, expires_at: T0 + 3 * HOUR });
          expect(await other.deleteSession(s.id)).toBe(true);
          expect(await store.touchSession(s.id, T0 + HOUR + 1, T0 + 4 * HOUR)).toBeUndefined();
        });

        it('stores a session inside a transaction only when it commits', async () => {
          const k = await key(await org());
          const s = aSession(k);
          await expect(
            store.transaction(async (tx) => {
              await tx.insertSession(s);
              expect(await tx.touchSession(s.id, T0 + 1, T0 + HOUR)).toEqual(s);
              throw new Error('changed my mind');
            }),
          ).rejects.toThrow('changed my mind');
          expect(await store.touchSession(s.id, T0 + 1, T0 + HOUR)).toBeUndefined();
          await store.transaction((tx) => tx.insertSession(s));
          expect(await store.touchSession(s.id, T0 + 1, T0 + HOUR)).toEqual(s);
        });
      });

      describe('concurrency slots and leases', () => {
        const live = (owner: string, at: number) => ({ owner, liveAfter: at - 25_000 });
        const heldOf = async (s: KeyStore, k: KeyRecord, owner: string, at: number) => {
          let seen = -1;
          await s.chargeBatch([{ id: k.id }], (_f, _now, held) => ((seen = held.get(k.id) ?? 0), { results: [], usage: new Map() }), at, live(owner, at));
          return seen;
        };
        const lease = (o: Organization, k: KeyRecord, owner: string, expires_at: number): LeaseRecord => ({
          id: nextId('lease'), org_id: o.id, key_id: k.id, owner, expires_at, created_at: T0, released_at: null,
        });

        it('tells a batch the slots other live owners hold and the live leases, not its own in-flight slots', async () => {
          const o = await org();
          const k = await key(o);
          await store.chargeBatch([{ id: k.id }], () => ({ results: [], usage: new Map(), slots: new Map([[k.id, 2]]) }), T0, live('proc_a', T0));
          await store.chargeBatch([{ id: k.id }], () => ({ results: [], usage: new Map(), leases: [lease(o, k, 'proc_b', T0 + 60_000)] }), T0, live('proc_b', T0));
          expect(await heldOf(store, k, 'proc_a', T0 + 1)).toBe(1);
          expect(await heldOf(store, k, 'proc_b', T0 + 1)).toBe(3);
          expect(await heldOf(store, k, 'proc_c', T0 + 1)).toBe(3);
          // proc_a's slots go back to 0.
          await store.chargeBatch([], () => ({ results: [], usage: new Map(), slots: new Map([[k.id, 0]]) }), T0 + 2, live('proc_a', T0 + 2));
          expect(await heldOf(store, k, 'proc_c', T0 + 3)).toBe(1);
        });

        it('forgets the slots and leases of an owner not seen for 25 s, and leases past their expiry', async () => {
          const o = await org();
          const k = await key(o);
          await store.chargeBatch([], () => ({ results: [], usage: new Map(), slots: new Map([[k.id, 1]]), leases: [lease(o, k, 'proc_dead', T0 + 600_000)] }), T0, live('proc_dead', T0));
          await store.chargeBatch([], () => ({ results: [], usage: new Map(), leases: [lease(o, k, 'proc_live', T0 + 30_000)] }), T0, live('proc_live', T0));
          await store.heartbeat('proc_live', T0 + 20_000);
          expect(await heldOf(store, k, 'proc_x', T0 + 20_000)).toBe(3);
          expect(await heldOf(store, k, 'proc_x', T0 + 26_000)).toBe(1);
          expect(await heldOf(store, k, 'proc_x', T0 + 30_001)).toBe(0);
        });

        it('releases a lease of the organization once, answering it as it stands; another organization’s is unknown', async () => {
          const o = await org();
          const other = await org();
          const k = await key(o);
          const l = lease(o, k, 'proc_a', T0 + 60_000);
          await store.chargeBatch([], () => ({ results: [], usage: new Map(), leases: [l] }), T0, live('proc_a', T0));
          expect(await store.releaseLease(other.id, l.id, T0 + 1)).toBeUndefined();
          expect(await store.releaseLease(o.id, l.id, T0 + 2)).toEqual({ ...l, released_at: T0 + 2 });
          expect(await store.releaseLease(o.id, l.id, T0 + 3)).toEqual({ ...l, released_at: T0 + 2 });
          expect(await store.releaseLease(o.id, 'lease_unknown', T0 + 3)).toBeUndefined();
          expect(await heldOf(store, k, 'proc_b', T0 + 4)).toBe(0);
        });
      });

      describe('signing keys', () => {
        it('lists every signing key kept, newest first', async () => {
          const oldest = aSigningKey({ created_at: T0, retired_at: T0 + 10 });
          const older = aSigningKey({ created_at: T0 + 10, retired_at: T0 + 20 });
          const current = aSigningKey({ created_at: T0 + 20 });
          for (const k of [older, current, oldest]) await store.insertSigningKey(k);
          expect(await store.listSigningKeys()).toEqual([current, older, oldest]);
        });

        it('keeps at most one current signing key', async () => {
          const current = aSigningKey();
          await store.insertSigningKey(current);
          await expect(store.insertSigningKey(aSigningKey({ created_at: T0 + 1 }))).rejects.toThrow();
          expect(await store.listSigningKeys()).toEqual([current]);
        });

        it('refuses a second signing key with the same kid', async () => {
          const first = aSigningKey({ retired_at: T0 + 1 });
          await store.insertSigningKey(first);
          await expect(store.insertSigningKey({ ...first, secret: 'other', retired_at: T0 + 2 })).rejects.toThrow();
          expect(await store.listSigningKeys()).toEqual([first]);
        });

        it('retires the current key once, after which a new current key may be inserted', async () => {
          const first = aSigningKey();
          await store.insertSigningKey(first);
          expect(await store.retireSigningKey(first.kid, T0 + 5)).toBe(true);
          expect(await store.retireSigningKey(first.kid, T0 + 6)).toBe(false);
          expect(await store.retireSigningKey('kid_unknown', T0 + 6)).toBe(false);
          const second = aSigningKey({ created_at: T0 + 5 });
          await store.insertSigningKey(second);
          expect(await store.listSigningKeys()).toEqual([second, { ...first, retired_at: T0 + 5 }]);
        });

        it('rotates the signing key in one transaction: retire the current, insert the next', async () => {
          const first = aSigningKey();
          await store.insertSigningKey(first);
          const second = aSigningKey({ created_at: T0 + 1 });
          await store.transaction(async (tx) => {
            expect(await tx.retireSigningKey(first.kid, T0 + 1)).toBe(true);
            await tx.insertSigningKey(second);
          });
          expect(await store.listSigningKeys()).toEqual([second, { ...first, retired_at: T0 + 1 }]);
        });

        it('prunes only keys retired before the given time, answering how many', async () => {
          const long = aSigningKey({ created_at: T0, retired_at: T0 + 10 });
          const recent = aSigningKey({ created_at: T0 + 10, retired_at: T0 + 20 });
          const atCutoff = aSigningKey({ created_at: T0 + 20, retired_at: T0 + 30 });
          const current = aSigningKey({ created_at: T0 - 100 });
          for (const k of [long, recent, atCutoff, current]) await store.insertSigningKey(k);
          expect(await store.pruneSigningKeys(T0 + 30)).toBe(2);
          expect(await store.listSigningKeys()).toEqual([atCutoff, current]);
          expect(await store.pruneSigningKeys(T0 + 30)).toBe(0);
          expect(await store.pruneSigningKeys(Number.MAX_SAFE_INTEGER)).toBe(1);
          expect(await store.listSigningKeys()).toEqual([current]);
        });
      });

      describe('transactions', () => {
        it('commits every write of the function and answers its result', async () => {
          const o = anOrg();
          const k = aKey(o);
          const result = await store.transaction(async (tx) => {
            await tx.insertOrganization(o);
            await tx.insertKey(k);
            await tx.appendAudit(anEvent(k));
            return 'done';
          });
          expect(result).toBe('done');
          expect(await store.getOrganization(o.id)).toEqual(o);
          expect(await store.getKey(o.id, k.id)).toEqual(k);
        });

        it('rolls every write back when the function throws, rejecting with its error', async () => {
          const kept = await org();
          const keptKey = await key(kept);
          const o = anOrg();
          const failure = new Error('changed my mind');
          await expect(
            store.transaction(async (tx) => {
              await tx.insertOrganization(o);
              await tx.insertKey(aKey(o, { id: 'key_rolled_back' }));
              expect(await tx.revokeKey(keptKey.id, T0 + 1)).toBe(true);
              await tx.insertSigningKey(aSigningKey());
              throw failure;
            }),
          ).rejects.toBe(failure);
          expect(await store.getOrganization(o.id)).toBeUndefined();
          expect(await store.findById('key_rolled_back')).toBeUndefined();
          expect(await store.getKey(kept.id, keptKey.id)).toEqual(keptKey);
          expect(await store.listSigningKeys()).toEqual([]);
          expect(ids(await store.listKeys(kept.id, { limit: 10, includeRevoked: true }))).toEqual([keptKey.id]);
        });

        it('rolls back what came before a write the store refuses', async () => {
          const o = anOrg();
          await expect(
            store.transaction(async (tx) => {
              await tx.insertOrganization(o);
              await tx.insertKey(aKey(anOrg({ id: 'org_nobody' })));
            }),
          ).rejects.toThrow();
          expect(await store.hasOrganizations()).toBe(false);
        });

        it('shows a transaction its own writes', async () => {
          const o = anOrg();
          const k = aKey(o);
          await store.transaction(async (tx) => {
            expect(await tx.hasOrganizations()).toBe(false);
            await tx.insertOrganization(o);
            expect(await tx.hasOrganizations()).toBe(true);
            expect(await tx.getOrganization(o.id)).toEqual(o);
            await tx.insertKey(k);
            expect(await tx.getKey(o.id, k.id)).toEqual(k);
            expect(await tx.findByHash(k.hash)).toEqual({ key: k, org: o, usage: EMPTY_USAGE });
            expect(await tx.findById(k.id)).toEqual({ key: k, org: o, usage: EMPTY_USAGE });
            expect(await tx.listKeys(o.id, { limit: 10, includeRevoked: false })).toEqual([k]);
            expect(await tx.revokeKey(k.id, T0 + 1)).toBe(true);
            expect(await tx.listKeys(o.id, { limit: 10, includeRevoked: false })).toEqual([]);
            expect(await tx.updateKey(k.id, { name: 'late', at: T0 + 2 })).toBe(false);
          });
        });

        it('makes the store’s other calls wait while a transaction is open, then shows them what it committed', async () => {
          const o = await org();
          const k = aKey(o, { name: 'draft' });
          const inside = deferred();
          const release = deferred();
          const events: string[] = [];
          const tx = store.transaction(async (t) => {
            await t.insertKey(k);
            inside.resolve();
            await release.promise;
            await t.updateKey(k.id, { name: 'final', at: T0 + 1 });
            events.push('commit');
            return 'committed';
          });
          await inside.promise;
          const read = outcome(store.getKey(o.id, k.id).finally(() => events.push('read')));
          const lookup = outcome(store.findByHash(k.hash).finally(() => events.push('lookup')));
          const list = outcome(store.listKeys(o.id, { limit: 10, includeRevoked: false }).finally(() => events.push('list')));
          const write = outcome(store.updateKey(k.id, { enabled: false, at: T0 + 2 }).finally(() => events.push('write')));
          await yieldTurns();
          events.push('release');
          release.resolve();

          expect(await tx).toBe('committed');
          expect(await read).toEqual({ value: expect.objectContaining({ name: 'final' }) });
          expect(await lookup).toEqual({ value: expect.objectContaining({ key: expect.objectContaining({ name: 'final' }) }) });
          expect(await list).toEqual({ value: [expect.objectContaining({ name: 'final' })] });
          expect(await write).toEqual({ value: true });
          expect(events.slice(0, 2)).toEqual(['release', 'commit']);
          expect(events.slice(2).sort()).toEqual(['list', 'lookup', 'read', 'write']);
          expect(await store.getKey(o.id, k.id)).toEqual({ ...k, name: 'final', enabled: false, updated_at: T0 + 2 });
        });

        it('lets calls waiting on a transaction run once it rolls back, showing the state before it', async () => {
          const o = await org();
          const k = aKey(o);
          const inside = deferred();
          const release = deferred();
          const tx = store.transaction(async (t) => {
            await t.insertKey(k);
            inside.resolve();
            await release.promise;
            throw new Error('abandoned');
          });
          await inside.promise;
          const read = outcome(store.getKey(o.id, k.id));
          const insert = outcome(store.insertKey(aKey(o, { id: 'key_after' })));
          await yieldTurns();
          release.resolve();
          await expect(tx).rejects.toThrow('abandoned');
          expect(await read).toEqual({ value: undefined });
          expect(await insert).toEqual({ value: undefined });
          expect(ids(await store.listKeys(o.id, { limit: 10, includeRevoked: true }))).toEqual(['key_after']);
        });

        it('makes a gate flush wait for an open transaction, then shows it the committed key', async () => {
          const o = await org();
          const k = aKey(o);
          const inside = deferred();
          const release = deferred();
          const tx = store.transaction(async (t) => {
            await t.insertKey(k);
            inside.resolve();
            await release.promise;
          });
          await inside.promise;
          const charged = outcome(increment(store, { hash: k.hash }, T0 + 1));
          await yieldTurns();
          release.resolve();
          await tx;
          expect(await charged).toEqual({ value: [1] });
          expect((await store.findById(k.id))?.usage.hour_count).toBe(1);
        });

        acrossStores('makes a gate flush on another store of the same database wait for an open transaction', async () => {
          const o = await org();
          const k = await key(o);
          const other = await connect();
          const inside = deferred();
          const release = deferred();
          const tx = store.transaction(async (t) => {
            await t.revokeKey(k.id, T0 + 1);
            inside.resolve();
            await release.promise;
          });
          await inside.promise;
          let revokedSeen: number | null | undefined;
          const charged = outcome(
            other.chargeBatch(
              [{ id: k.id }],
              ([found]) => {
                revokedSeen = found?.key.revoked_at;
                return { results: [found?.key.id], usage: new Map() };
              },
              T0 + 2,
            ),
          );
          await yieldTurns();
          release.resolve();
          await tx;
          expect(await charged).toEqual({ value: [k.id] });
          expect(revokedSeen).toBe(T0 + 1);
        });

        it('runs concurrent transactions on one store one after the other', async () => {
          const o = await org();
          /** Reads how many keys exist, then adds the next one: interleaved, two would pick the same id. */
          const addNext = () =>
            store.transaction(async (tx) => {
              const before = (await tx.listKeys(o.id, { limit: 100, includeRevoked: true })).length;
              await yieldTurns(2);
              await tx.insertKey(aKey(o, { id: `key_n${before}`, created_at: T0 + before }));
              return before;
            });
          const seen = await Promise.all([addNext(), addNext(), addNext(), addNext()]);
          expect(seen.sort()).toEqual([0, 1, 2, 3]);
          expect(ids(await store.listKeys(o.id, { limit: 100, includeRevoked: true }))).toEqual(['key_n3', 'key_n2', 'key_n1', 'key_n0']);
        });

        acrossStores('runs concurrent transactions from several stores on one database one after the other', async () => {
          const o = await org();
          const stores = [store, await connect(), await connect()];
          const addNext = (s: KeyStore) =>
            s.transaction(async (tx) => {
              const before = (await tx.listKeys(o.id, { limit: 100, includeRevoked: true })).length;
              await tx.insertKey(aKey(o, { id: `key_n${before}`, created_at: T0 + before }));
              return before;
            });
          const settled = await Promise.all(stores.flatMap((s) => [outcome(addNext(s)), outcome(addNext(s))]));
          expect(settled.filter((r) => 'error' in r)).toEqual([]);
          expect(settled.map((r) => ('value' in r ? r.value : -1)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
        });
      });

      describe('charging a batch', () => {
        it('hands decide one entry per ref, in order, reading a key named twice once', async () => {
          const o = await org();
          const a = await key(o);
          const b = await key(o);
          let found: ReadonlyArray<KeyLookup | undefined> = [];
          await store.chargeBatch(
            [{ hash: a.hash }, { id: b.id }, { hash: a.hash }, { id: b.id }, { hash: 'hash_unknown' }],
            (f) => {
              found = f;
              return { results: [], usage: new Map() };
            },
            T0,
          );
          expect(found).toHaveLength(5);
          expect(found[0]).toEqual({ key: a, org: o, usage: EMPTY_USAGE });
          expect(found[1]).toEqual({ key: b, org: o, usage: EMPTY_USAGE });
          expect(found[2]).toBe(found[0]);
          expect(found[3]).toBe(found[1]);
          expect(found[4]).toBeUndefined();
        });

        it('finds keys by hash and by id, answering undefined for unknown refs of either kind', async () => {
          const o = await org();
          const k = await key(o);
          let found: ReadonlyArray<KeyLookup | undefined> = [];
          await store.chargeBatch(
            [{ id: 'key_unknown' }, { hash: k.hash }, { hash: 'hash_unknown' }, { id: k.id }],
            (f) => {
              found = f;
              return { results: [], usage: new Map() };
            },
            T0,
          );
          expect(found.map((f) => f?.key.id)).toEqual([undefined, k.id, undefined, k.id]);
        });

        it('answers decide’s results in order', async () => {
          const o = await org();
          const a = await key(o);
          const b = await key(o);
          const results = await store.chargeBatch(
            [{ id: a.id }, { id: 'key_unknown' }, { hash: b.hash }],
            (found) => ({ results: found.map((f, i) => `${i}:${f?.key.id ?? 'none'}`), usage: new Map() }),
            T0,
          );
          expect(results).toEqual([`0:${a.id}`, '1:none', `2:${b.id}`]);
        });

        it('persists the usage decide returns, stamping last_used_at, and leaves other keys alone', async () => {
          const o = await org();
          const a = await key(o);
          const b = await key(o);
          const idle = await key(o);
          await store.chargeBatch(
            [{ id: a.id }, { id: b.id }, { id: idle.id }],
            () => ({ results: [], usage: new Map([[a.id, usage(2)], [b.id, { hour_window: T0, hour_count: 9, own_window: T0 + 1_000, own_count: 1 }]]) }),
            T0 + 1_500,
          );
          expect(await store.findById(a.id)).toEqual({ key: { ...a, last_used_at: T0 + 1_500 }, org: o, usage: usage(2) });
          expect((await store.findByHash(b.hash))?.usage).toEqual({ hour_window: T0, hour_count: 9, own_window: T0 + 1_000, own_count: 1 });
          expect(await store.findById(idle.id)).toEqual({ key: idle, org: o, usage: EMPTY_USAGE });
          // The key record itself is unchanged by a charge.
          expect((await store.getKey(o.id, a.id))?.updated_at).toBe(a.updated_at);
        });

        it('hands the next batch the usage the previous one persisted', async () => {
          const o = await org();
          const k = await key(o);
          expect(await increment(store, { hash: k.hash }, T0 + 1)).toEqual([1]);
          expect(await increment(store, { id: k.id }, T0 + 2)).toEqual([2]);
          await charge(store, k.id, usage(0, T0 + HOUR), T0 + HOUR);
          expect(await increment(store, { hash: k.hash }, T0 + HOUR + 1)).toEqual([1]);
          expect((await store.findById(k.id))?.usage).toEqual(usage(1, T0 + HOUR));
        });

        it('answers an empty batch with decide’s results, writing nothing', async () => {
          let calls = 0;
          const results = await store.chargeBatch([], (found) => (calls++, { results: [found.length], usage: new Map() }), T0);
          expect(results).toEqual([0]);
          expect(calls).toBe(1);
        });

        it('rolls back and rejects when decide throws', async () => {
          const o = await org();
          const k = await key(o);
          await charge(store, k.id, usage(5), T0 + 1);
          const failure = new Error('decide failed');
          await expect(
            store.chargeBatch([{ id: k.id }], () => {
              throw failure;
            }, T0 + 2),
          ).rejects.toBe(failure);
          expect(await store.findById(k.id)).toEqual({ key: { ...k, last_used_at: T0 + 1 }, org: o, usage: usage(5) });
          // The store is usable afterwards.
          expect(await increment(store, { id: k.id }, T0 + 3)).toEqual([6]);
        });

        it('hands decide the time it is given and stamps last_used_at with it', async () => {
          const o = await org();
          const k = await key(o);
          let seen: number | undefined;
          await store.chargeBatch([{ id: k.id }], (_found, now) => ((seen = now), { results: [], usage: new Map([[k.id, usage(1)]]) }), T0 + 42);
          expect(seen).toBe(T0 + 42);
          expect((await store.findById(k.id))?.key.last_used_at).toBe(T0 + 42);
        });

        it('charges at the store’s own clock when the flush names no time, handing decide that time and stamping it', async () => {
          const o = await org();
          const k = await key(o);
          let seen: number | undefined;
          const before = Date.now();
          await store.chargeBatch([{ hash: k.hash }], (_found, now) => ((seen = now), { results: [], usage: new Map([[k.id, usage(1, now - (now % HOUR))]]) }));
          const after = Date.now();
          // Every backend here runs on this machine, so its clock (a database server's too) reads this machine's time.
          expect(seen).toBeGreaterThanOrEqual(before);
          expect(seen).toBeLessThanOrEqual(after);
          expect((await store.findById(k.id))?.key.last_used_at).toBe(seen);
        });

        it('keeps exact counts when several stores on one database charge the same key at once', async () => {
          const o = await org();
          const k = await key(o);
          const instances = 4;
          const perInstance = 25;
          const stores = [store];
          for (let i = 1; i < instances; i++) stores.push(await connect());
          const seen = (
            await Promise.all(stores.flatMap((s, i) => Array.from({ length: perInstance }, (_, j) => increment(s, j % 2 ? { id: k.id } : { hash: k.hash }, T0 + i))))
          ).flat();
          const total = instances * perInstance;
          // Every increment read the count the one before it wrote: no two saw the same count.
          expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
          for (const s of stores) expect((await s.findById(k.id))?.usage).toMatchObject({ hour_count: total, own_count: total });
        });
      });
    });
  });
}
