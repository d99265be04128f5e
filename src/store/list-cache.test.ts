import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyService } from '../core/service.js';
import { SqliteStore } from './sqlite.js';

/** listKeys keeps pages between calls; these pin down when a kept page must not be served. */

let dir: string;
let store: SqliteStore;
let other: SqliteStore;
let orgId: string;
let adminId: string;
let now = Date.UTC(2030, 0, 15, 12, 0, 0);
const clock = () => now;

function makeKey(s: SqliteStore, name: string) {
  now += 1_000;
  const service = new KeyService(s, clock);
  const admin = s.getKey(orgId, adminId)!;
  const org = s.getOrganization(orgId)!;
  return service.generate({ key: admin, org, window: { limit: 1, remaining: 1, reset_at: 0, window_ms: 1 }, hourly: { limit: 1, remaining: 1, reset_at: 0, window_ms: 1 }, concurrency: { limit: 1, in_flight: 0 } }, { name }).key;
}

const names = (s: SqliteStore, includeRevoked = false) => s.listKeys(orgId, { limit: 50, includeRevoked }).map((k) => k.name);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dispersl-list-cache-'));
  store = new SqliteStore(join(dir, 'db.sqlite'));
  other = new SqliteStore(join(dir, 'db.sqlite'));
  const created = new KeyService(store, clock).createOrganization({ name: 'Acme', plan: 'free' });
  orgId = created.organization.id;
  adminId = created.key.id;
});
afterEach(() => {
  store.close();
  other.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the list page cache', () => {
  it("shows this connection's own writes at once", () => {
    expect(names(store)).toEqual(['Admin key']);
    const k = makeKey(store, 'one');
    expect(names(store)).toEqual(['one', 'Admin key']);
    store.updateKey(k.id, { name: 'renamed', at: now });
    expect(names(store)).toEqual(['renamed', 'Admin key']);
    store.revokeKey(k.id, now);
    expect(names(store)).toEqual(['Admin key']);
    expect(names(store, true)).toEqual(['renamed', 'Admin key']);
  });

  it('shows what another connection (another process) committed', () => {
    expect(names(store)).toEqual(['Admin key']);
    const k = makeKey(other, 'from elsewhere');
    expect(names(store)).toEqual(['from elsewhere', 'Admin key']);
    other.revokeKey(k.id, now);
    expect(names(store)).toEqual(['Admin key']);
  });

  it('reads last_used_at fresh, though a charge writes no key', () => {
    expect(store.listKeys(orgId, { limit: 5, includeRevoked: false })[0]!.last_used_at).toBeNull();
    store.saveUsage(adminId, { hour_window: 0, hour_count: 1, own_window: 0, own_count: 0 }, now);
    expect(store.listKeys(orgId, { limit: 5, includeRevoked: false })[0]!.last_used_at).toBe(now);
    other.saveUsage(adminId, { hour_window: 0, hour_count: 2, own_window: 0, own_count: 0 }, now + 5);
    expect(store.listKeys(orgId, { limit: 5, includeRevoked: false })[0]!.last_used_at).toBe(now + 5);
  });

  it('never keeps a page read inside a transaction that rolled back', () => {
    expect(names(store)).toEqual(['Admin key']);
    expect(() =>
      store.transaction(() => {
        makeKey(store, 'rolled back');
        expect(names(store)).toEqual(['rolled back', 'Admin key']);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(names(store)).toEqual(['Admin key']);
  });

  it('hands out copies that cannot change the kept page', () => {
    const first = store.listKeys(orgId, { limit: 5, includeRevoked: false })[0]!;
    first.permissions.push('tampered');
    first.name = 'tampered';
    expect(store.listKeys(orgId, { limit: 5, includeRevoked: false })[0]).toMatchObject({ name: 'Admin key', permissions: ['admin'] });
  });
});
