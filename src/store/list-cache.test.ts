import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Caller } from '../core/auth.js';
import type { KeyRecord, Usage } from '../core/model.js';
import { KeyService } from '../core/service.js';
import type { StoreOps } from '../core/store.js';
import { SqliteStore } from './sqlite.js';

/** listKeys keeps pages between calls; these pin down when a kept page must not be served. */

let dir: string;
let store: SqliteStore;
let other: SqliteStore;
let orgId: string;
let adminId: string;
let now = Date.UTC(2030, 0, 15, 12, 0, 0);
const clock = () => now;

async function makeKey(s: SqliteStore, name: string, input: Record<string, unknown> = {}) {
  now += 1_000;
  const service = new KeyService(s, clock);
  const admin = (await s.getKey(orgId, adminId))!;
  const org = (await s.getOrganization(orgId))!;
  const caller: Caller = { key: admin, org, window: { limit: 1, remaining: 1, reset_at: 0, window_ms: 1 }, hourly: { limit: 1, remaining: 1, reset_at: 0, window_ms: 1 }, concurrency: { limit: 1, in_flight: 0 } };
  return (await service.execute('generateKey', caller, { name, ...input })).key;
}

/**
 * makeKey inside an open transaction, on its handle: the store's own methods (and so a KeyService's
 * own transaction) wait until the transaction ends. A copy of the admin key under a new id and name.
 */
async function makeKeyIn(tx: StoreOps, name: string): Promise<KeyRecord> {
  now += 1_000;
  const admin = (await tx.getKey(orgId, adminId))!;
  const key: KeyRecord = { ...admin, id: `key_${name.replace(/\W/g, '')}`, hash: `hash of ${name}`, name, created_at: now, updated_at: now, created_by: adminId };
  await tx.insertKey(key);
  return key;
}

const names = async (s: StoreOps, includeRevoked = false) => (await s.listKeys(orgId, { limit: 50, includeRevoked })).map((k) => k.name);

/** What a gate flush writes for a key it charged: its usage and last_used_at, and nothing in keys. */
function charge(s: SqliteStore, keyId: string, usage: Usage, at: number): Promise<unknown[]> {
  return s.chargeBatch([{ id: keyId }], () => ({ results: [], usage: new Map([[keyId, usage]]) }), at);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dispersl-list-cache-'));
  store = new SqliteStore(join(dir, 'db.sqlite'));
  other = new SqliteStore(join(dir, 'db.sqlite'));
  const created = await new KeyService(store, clock).createOrganization({ name: 'Acme', plan: 'free' });
  orgId = created.organization.id;
  adminId = created.key.id;
});
afterEach(async () => {
  await store.close();
  await other.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the list page cache', () => {
  it("shows this connection's own writes at once", async () => {
    expect(await names(store)).toEqual(['Admin key']);
    const k = await makeKey(store, 'one');
    expect(await names(store)).toEqual(['one', 'Admin key']);
    await store.updateKey(k.id, { name: 'renamed', at: now });
    expect(await names(store)).toEqual(['renamed', 'Admin key']);
    await store.revokeKey(k.id, now);
    expect(await names(store)).toEqual(['Admin key']);
    expect(await names(store, true)).toEqual(['renamed', 'Admin key']);
  });

  it('shows what another connection (another process) committed', async () => {
    expect(await names(store)).toEqual(['Admin key']);
    const k = await makeKey(other, 'from elsewhere');
    expect(await names(store)).toEqual(['from elsewhere', 'Admin key']);
    await other.revokeKey(k.id, now);
    expect(await names(store)).toEqual(['Admin key']);
  });

  it('reads last_used_at fresh, though a charge writes no key', async () => {
    expect((await store.listKeys(orgId, { limit: 5, includeRevoked: false }))[0]!.last_used_at).toBeNull();
    await charge(store, adminId, { hour_window: 0, hour_count: 1, own_window: 0, own_count: 0 }, now);
    expect((await store.listKeys(orgId, { limit: 5, includeRevoked: false }))[0]!.last_used_at).toBe(now);
    await charge(other, adminId, { hour_window: 0, hour_count: 2, own_window: 0, own_count: 0 }, now + 5);
    expect((await store.listKeys(orgId, { limit: 5, includeRevoked: false }))[0]!.last_used_at).toBe(now + 5);
  });

  it('never keeps a page read inside a transaction that rolled back', async () => {
    expect(await names(store)).toEqual(['Admin key']);
    await expect(
      store.transaction(async (tx) => {
        await makeKeyIn(tx, 'rolled back');
        expect(await names(tx)).toEqual(['rolled back', 'Admin key']);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await names(store)).toEqual(['Admin key']);
  });

  it('answers a state as of the time asked: a key that expires by time alone, with no write, leaves active for expired', async () => {
    await makeKey(store, 'short-lived', { expires_in_seconds: 60 });
    const inState = async (state: 'active' | 'expired', at: number) => (await store.listKeys(orgId, { limit: 50, includeRevoked: false, state, now: at })).map((x) => x.name);
    // Each asked twice: a page kept from the first answer must not be served once the time has moved on.
    for (let i = 0; i < 2; i++) {
      expect(await inState('active', now)).toEqual(['short-lived', 'Admin key']);
      expect(await inState('expired', now)).toEqual([]);
    }
    for (let i = 0; i < 2; i++) {
      expect(await inState('active', now + 60_000)).toEqual(['Admin key']);
      expect(await inState('expired', now + 60_000)).toEqual(['short-lived']);
    }
    expect(await names(store)).toEqual(['short-lived', 'Admin key']);
  });

  it('keeps a state apart from the unfiltered list: state disabled answers only disabled keys, before and after a change', async () => {
    const k = await makeKey(store, 'switch');
    const disabled = async () => (await store.listKeys(orgId, { limit: 50, includeRevoked: false, state: 'disabled' })).map((x) => x.name);
    expect(await names(store)).toEqual(['switch', 'Admin key']);
    expect(await disabled()).toEqual([]);
    await other.updateKey(k.id, { enabled: false, at: now });
    expect(await disabled()).toEqual(['switch']);
    expect(await names(store)).toEqual(['switch', 'Admin key']);
  });

  it('hands out copies that cannot change the kept page', async () => {
    const first = (await store.listKeys(orgId, { limit: 5, includeRevoked: false }))[0]!;
    first.permissions.push('tampered');
    first.name = 'tampered';
    expect((await store.listKeys(orgId, { limit: 5, includeRevoked: false }))[0]).toMatchObject({ name: 'Admin key', permissions: ['admin'] });
  });
});
