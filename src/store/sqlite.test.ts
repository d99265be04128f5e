import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_IP } from '../core/auth.js';
import type { KeyRecord } from '../core/model.js';
import { createWorld, credential } from '../testing/fixtures.js';
import { MIGRATIONS, SCHEMA_VERSION, SchemaTooNewError, SqliteStore } from './sqlite.js';

let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dispersl-store-'));
});
afterEach(async () => rmSync(dir, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;
const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function keyRecord(orgId: string, id: string): KeyRecord {
  return {
    id,
    org_id: orgId,
    hash: `hash-of-${id}`,
    start: 'pk_live_abcd',
    name: id,
    environment: 'live',
    permissions: ['keys:read'],
    allowed_ips: [],
    expires_at: null,
    enabled: true,
    revoked_at: null,
    rate_limit: null,
    created_at: 1,
    updated_at: 1,
    last_used_at: null,
    created_by: null,
    rotated_from: null,
    rotated_to: null,
  };
}

describe('SqliteStore: opening a database', () => {
  it('creates the schema at the current version, in WAL mode with foreign keys on', async () => {
    const store = new SqliteStore(join(dir, 'keys.db'));
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
      const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['organizations', 'keys', 'usage', 'audit_events']));
    } finally {
      store.close();
    }
  });

  it('opens an existing database again with its data', async () => {
    const path = join(dir, 'keys.db');
    const first = await createWorld({ path });
    first.store.close();
    const again = new SqliteStore(path);
    try {
      expect((await again.getOrganization(first.tenant.org.id))).toEqual(first.tenant.org);
      expect((await again.getKey(first.tenant.org.id, first.tenant.adminId))?.permissions).toEqual(['admin']);
    } finally {
      again.close();
    }
  });

  it('refuses a database of a newer schema without changing it', async () => {
    const path = join(dir, 'future.db');
    const future = new Database(path);
    future.exec('CREATE TABLE from_the_future (x INTEGER)');
    future.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    future.close();
    const before = digest(path);
    expect(() => new SqliteStore(path)).toThrow(SchemaTooNewError);
    expect(() => new SqliteStore(path)).toThrow(/newer than this dispersl-mcp supports/);
    expect(digest(path)).toBe(before);
    expect(existsSync(`${path}-wal`)).toBe(false);
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
    check.close();
  });

  it('creates its folder owner-only (0700) and its files owner-only (0600)', async () => {
    const path = join(dir, 'nested', 'deeper', 'keys.db');
    const w = await createWorld({ path });
    try {
      (await w.gate.admit(credential(w.tenant.adminSecret))).release();
      expect(mode(join(dir, 'nested'))).toBe(0o700);
      expect(mode(join(dir, 'nested', 'deeper'))).toBe(0o700);
      expect(mode(path)).toBe(0o600);
      expect(mode(`${path}-wal`)).toBe(0o600);
    } finally {
      w.store.close();
    }
  });
});

describe('SqliteStore: migrating a database of an earlier version', () => {
  /** The version before sign-ins joined the audit trail (the migration that rebuilds audit_events). */
  const beforeSignIns = MIGRATIONS.findIndex((sql) => sql.includes('audit_events_widened'));

  /** A database file as that version left it, with an organization, two keys and three audit events (ids 1, 2 and 7). */
  function previousVersion(path: string): void {
    expect(beforeSignIns).toBeGreaterThan(0);
    const db = new Database(path);
    db.pragma('foreign_keys = ON');
    for (const [v, sql] of MIGRATIONS.slice(0, beforeSignIns).entries()) {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    }
    db.exec(`INSERT INTO organizations (id, name, plan, created_at) VALUES ('org_a', 'Acme', 'free', 1);
      INSERT INTO keys (id, org_id, hash, start, name, environment, permissions, allowed_ips, enabled, created_at, updated_at)
        VALUES ('key_a', 'org_a', 'hash_a', 'pk_live_aaaa', 'a', 'live', '["admin"]', '[]', 1, 1, 1),
               ('key_b', 'org_a', 'hash_b', 'pk_live_bbbb', 'b', 'live', '["keys:read"]', '[]', 1, 2, 2);
      INSERT INTO audit_events (id, org_id, key_id, actor_key_id, action, details, at, type) VALUES
        (1, 'org_a', 'key_a', NULL, 'created', '{"name":"a"}', 10, 'key.created'),
        (2, 'org_a', 'key_b', 'key_a', 'created', '{"name":"b"}', 20, 'key.created'),
        (7, 'org_a', 'key_b', 'key_a', 'updated', '{"enabled":false}', 30, 'key.disabled');`);
    db.close();
  }

  it('rebuilds the audit trail to take sign-ins, keeping every event with its id', async () => {
    const path = join(dir, 'old.db');
    previousVersion(path);
    const before = new Database(path, { readonly: true });
    const rows = before.prepare('SELECT * FROM audit_events ORDER BY id').all();
    before.close();

    const store = new SqliteStore(path);
    try {
      expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(store.db.prepare('SELECT * FROM audit_events ORDER BY id').all()).toEqual(rows);
      expect((await store.listEvents('org_a', { limit: 10 })).map((e) => [e.id, e.type])).toEqual([
        [7, 'key.disabled'],
        [2, 'key.created'],
        [1, 'key.created'],
      ]);
      await store.appendAudit({ org_id: 'org_a', key_id: 'key_b', actor_key_id: 'key_b', action: 'signed_in', details: {}, at: 40 });
      const [signIn] = await store.listEvents('org_a', { type: 'session.created', limit: 10 });
      expect(signIn).toMatchObject({ id: 8, key_id: 'key_b', action: 'signed_in', type: 'session.created' });
      // Still refused: an action outside the list, and an event naming an unknown key.
      expect(() => store.db.prepare("INSERT INTO audit_events (org_id, key_id, action, details, at) VALUES ('org_a', 'key_a', 'deleted', '{}', 50)").run()).toThrow(/CHECK/);
      await expect(store.appendAudit({ org_id: 'org_a', key_id: 'key_gone', actor_key_id: null, action: 'created', details: {}, at: 50 })).rejects.toThrow(/FOREIGN KEY/);
      expect(store.db.pragma('foreign_key_check')).toEqual([]);
      const indexes = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events' ORDER BY name").pluck().all();
      expect(indexes).toEqual(['audit_by_key', 'audit_by_org', 'audit_by_org_key', 'audit_by_org_type']);
      expect(store.db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'audit_events_widened'").pluck().get()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('keeps the keys a database had and gives them sessions', async () => {
    const path = join(dir, 'old.db');
    previousVersion(path);
    const store = new SqliteStore(path);
    try {
      expect((await store.listKeys('org_a', { limit: 10, includeRevoked: false })).map((k) => k.id)).toEqual(['key_b', 'key_a']);
      await store.insertSession({ id: 'session_hash', org_id: 'org_a', key_id: 'key_a', created_at: 100, expires_at: 200 });
      expect(await store.touchSession('session_hash', 150, 300)).toMatchObject({ key_id: 'key_a', expires_at: 300 });
    } finally {
      await store.close();
    }
  });
});

describe('SqliteStore: guarded writes', () => {
  it('answer false when the change they guard against already happened', async () => {
    const w = await createWorld();
    try {
      const orgId = w.tenant.org.id;
      const { store } = w;
      for (const id of ['key_a', 'key_b', 'key_c']) await store.insertKey(keyRecord(orgId, id));
      expect((await store.revokeKey('key_a', 10))).toBe(true);
      expect((await store.revokeKey('key_a', 20))).toBe(false);
      expect((await store.getKey(orgId, 'key_a'))?.revoked_at).toBe(10);
      expect((await store.revokeKey('key_missing', 10))).toBe(false);
      expect((await store.updateKey('key_a', { name: 'late', at: 30 }))).toBe(false);
      expect((await store.updateKey('key_b', { name: 'renamed', at: 30 }))).toBe(true);
      expect((await store.getKey(orgId, 'key_b'))).toMatchObject({ name: 'renamed', enabled: true, updated_at: 30 });
      const rotation = { rotated_to: 'key_c', expires_at: 100, revoked_at: null, at: 40 };
      expect((await store.rotateKey('key_a', rotation))).toBe(false); // revoked
      expect((await store.rotateKey('key_b', rotation))).toBe(true);
      expect((await store.rotateKey('key_b', { ...rotation, rotated_to: 'key_a' }))).toBe(false); // rotated already
      expect((await store.getKey(orgId, 'key_b'))).toMatchObject({ rotated_to: 'key_c', expires_at: 100 });
    } finally {
      w.store.close();
    }
  });

  it('enforce foreign keys', async () => {
    const w = await createWorld();
    try {
      await expect(w.store.insertKey(keyRecord('org_nobody', 'key_orphan'))).rejects.toThrow(/FOREIGN KEY/);
      expect((await w.store.getKey('org_nobody', 'key_orphan'))).toBeUndefined();
    } finally {
      w.store.close();
    }
  });

  it('keeps an organization’s keys out of another organization’s reads', async () => {
    const w = await createWorld();
    try {
      const other = await w.addTenant({ name: 'Other' });
      expect((await w.store.getKey(other.org.id, w.tenant.adminId))).toBeUndefined();
      expect((await w.store.listKeys(other.org.id, { limit: 10, includeRevoked: true })).map((k) => k.id)).toEqual([other.adminId]);
    } finally {
      w.store.close();
    }
  });
});

describe('SqliteStore: the write-ahead log', () => {
  it('stays bounded while tens of thousands of requests are charged', async () => {
    const path = join(dir, 'busy.db');
    const w = await createWorld({ path, plan: 'enterprise', requests_per_hour: 1_000_000, max_concurrency: 1_000 });
    try {
      const token = w.tenant.adminSecret;
      const requests = 30_000;
      let largest = 0;
      for (let i = 0; i < requests; i++) {
        // Mostly one request a transaction (the worst case for the log), with an occasional burst.
        const burst = i % 1_000 === 0 ? 20 : 1;
        const admissions = await Promise.all(Array.from({ length: burst }, () => w.gate.admit({ token, ip: LOCAL_IP })));
        for (const a of admissions) a.release();
        i += burst - 1;
        if (i % 500 === 0) largest = Math.max(largest, statSync(`${path}-wal`).size);
      }
      largest = Math.max(largest, statSync(`${path}-wal`).size);
      expect(largest).toBeGreaterThan(0);
      expect(largest).toBeLessThan(8 * 1024 * 1024);
      expect((await w.gate.peek(credential(token))).window.remaining).toBe(1_000_000 - requests);
    } finally {
      w.store.close();
    }
  }, 120_000);
});
