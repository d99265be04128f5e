import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { causeOf } from '../core/errors.js';
import type { AuditEvent, KeyRecord, Organization, Plan, Usage } from '../core/model.js';
import type { KeyLookup, KeyStore, ListOptions, SigningKeyRecord } from '../core/store.js';

/** Each entry moves the schema one version up; PRAGMA user_version records where a database stands. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE organizations (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     plan TEXT NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise')),
     requests_per_hour INTEGER CHECK (requests_per_hour > 0),
     max_concurrency INTEGER CHECK (max_concurrency > 0),
     created_at INTEGER NOT NULL
   );
   CREATE TABLE keys (
     id TEXT PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES organizations(id),
     hash TEXT NOT NULL UNIQUE,
     start TEXT NOT NULL,
     name TEXT NOT NULL,
     environment TEXT NOT NULL CHECK (environment IN ('live', 'test')),
     permissions TEXT NOT NULL,
     allowed_ips TEXT NOT NULL,
     expires_at INTEGER,
     enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
     revoked_at INTEGER,
     rate_limit_max INTEGER,
     rate_limit_window_ms INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     created_by TEXT REFERENCES keys(id),
     rotated_from TEXT REFERENCES keys(id),
     rotated_to TEXT REFERENCES keys(id)
   );
   CREATE INDEX keys_by_org ON keys (org_id, created_at DESC, id DESC);
   CREATE TABLE usage (
     key_id TEXT PRIMARY KEY REFERENCES keys(id),
     hour_window INTEGER NOT NULL,
     hour_count INTEGER NOT NULL CHECK (hour_count >= 0),
     own_window INTEGER NOT NULL,
     own_count INTEGER NOT NULL CHECK (own_count >= 0),
     last_used_at INTEGER
   ) WITHOUT ROWID;
   CREATE TABLE audit_events (
     id INTEGER PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES organizations(id),
     key_id TEXT NOT NULL REFERENCES keys(id),
     actor_key_id TEXT REFERENCES keys(id),
     action TEXT NOT NULL CHECK (action IN ('created', 'revoked', 'rotated', 'updated')),
     details TEXT NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX audit_by_key ON audit_events (key_id, at);`,
  // Access tokens: the secrets that sign them, kept so every process verifies what any other issued.
  `CREATE TABLE signing_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL CHECK (alg IN ('HS256')),
     secret TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     retired_at INTEGER
   );
   CREATE UNIQUE INDEX one_current_signing_key ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;`,
  // A count of changes to the keys table, whoever makes them: lets a process keep listed pages until
  // a key changes, where PRAGMA data_version would also change with every request another process charges.
  `CREATE TABLE key_changes (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
   INSERT INTO key_changes (id, n) VALUES (1, 0);
   CREATE TRIGGER key_inserted AFTER INSERT ON keys BEGIN UPDATE key_changes SET n = n + 1 WHERE id = 1; END;
   CREATE TRIGGER key_updated AFTER UPDATE ON keys BEGIN UPDATE key_changes SET n = n + 1 WHERE id = 1; END;
   CREATE TRIGGER key_deleted AFTER DELETE ON keys BEGIN UPDATE key_changes SET n = n + 1 WHERE id = 1; END;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Less free space than this on the database's file system counts as full. A write that failed for lack
 * of space leaves WAL room a one-page probe can still use, so the probe alone would report a full
 * disk as writable; a key's insert needs a few pages, this allows several.
 */
const MIN_FREE_BYTES = 64 * 1024;

export class SchemaTooNewError extends Error {
  constructor(readonly found: number) {
    super(`the database has schema version ${found}, newer than this dispersl-mcp supports (${SCHEMA_VERSION}); upgrade dispersl-mcp`);
  }
}

const KEY_COLUMNS = `k.id, k.org_id, k.hash, k.start, k.name, k.environment, k.permissions, k.allowed_ips, k.expires_at,
  k.enabled, k.revoked_at, k.rate_limit_max, k.rate_limit_window_ms, k.created_at, k.updated_at, k.created_by,
  k.rotated_from, k.rotated_to, u.last_used_at`;

const LOOKUP_SELECT = `SELECT ${KEY_COLUMNS}, o.name AS org_name, o.plan, o.requests_per_hour, o.max_concurrency,
    o.created_at AS org_created_at, u.hour_window, u.hour_count, u.own_window, u.own_count
  FROM keys k JOIN organizations o ON o.id = k.org_id LEFT JOIN usage u ON u.key_id = k.id`;

interface KeyRow {
  id: string;
  org_id: string;
  hash: string;
  start: string;
  name: string;
  environment: 'live' | 'test';
  permissions: string;
  allowed_ips: string;
  expires_at: number | null;
  enabled: number;
  revoked_at: number | null;
  rate_limit_max: number | null;
  rate_limit_window_ms: number | null;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  rotated_from: string | null;
  rotated_to: string | null;
  last_used_at: number | null;
}

interface LookupRow extends KeyRow {
  org_name: string;
  plan: Plan;
  requests_per_hour: number | null;
  max_concurrency: number | null;
  org_created_at: number;
  hour_window: number | null;
  hour_count: number | null;
  own_window: number | null;
  own_count: number | null;
}

/**
 * The column order of LOOKUP_SELECT. The gate runs a lookup on every request, so it reads rows as
 * arrays: better-sqlite3 builds a 28-property object per row several times slower than an array.
 * The constructor checks this list against the statement, so the two cannot drift apart.
 */
const LOOKUP_FIELDS = [
  'id', 'org_id', 'hash', 'start', 'name', 'environment', 'permissions', 'allowed_ips', 'expires_at', 'enabled', 'revoked_at',
  'rate_limit_max', 'rate_limit_window_ms', 'created_at', 'updated_at', 'created_by', 'rotated_from', 'rotated_to', 'last_used_at',
  'org_name', 'plan', 'requests_per_hour', 'max_concurrency', 'org_created_at', 'hour_window', 'hour_count', 'own_window', 'own_count',
] as const;

type LookupFields = typeof LOOKUP_FIELDS;
type LookupValues = { -readonly [I in keyof LookupFields]: LookupFields[I] extends keyof LookupRow ? LookupRow[LookupFields[I]] : never };

function lookupRow(v: LookupValues | undefined): LookupRow | undefined {
  if (!v) return undefined;
  return {
    id: v[0], org_id: v[1], hash: v[2], start: v[3], name: v[4], environment: v[5], permissions: v[6], allowed_ips: v[7], expires_at: v[8],
    enabled: v[9], revoked_at: v[10], rate_limit_max: v[11], rate_limit_window_ms: v[12], created_at: v[13], updated_at: v[14],
    created_by: v[15], rotated_from: v[16], rotated_to: v[17], last_used_at: v[18], org_name: v[19], plan: v[20],
    requests_per_hour: v[21], max_concurrency: v[22], org_created_at: v[23], hour_window: v[24], hour_count: v[25], own_window: v[26], own_count: v[27],
  };
}

/** permissions and allowed_ips come back as the same few JSON strings on every request: parse each once. */
const parsedLists = new Map<string, readonly string[]>();

function parseList(json: string): string[] {
  let list = parsedLists.get(json);
  if (list === undefined) {
    list = JSON.parse(json) as string[];
    if (parsedLists.size >= 1_000) parsedLists.clear();
    parsedLists.set(json, list);
  }
  // Each record owns its arrays, so no caller can change another's through the cache.
  return list.slice();
}

function toKey(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    org_id: row.org_id,
    hash: row.hash,
    start: row.start,
    name: row.name,
    environment: row.environment,
    permissions: parseList(row.permissions),
    allowed_ips: parseList(row.allowed_ips),
    expires_at: row.expires_at,
    enabled: row.enabled === 1,
    revoked_at: row.revoked_at,
    rate_limit: row.rate_limit_max === null || row.rate_limit_window_ms === null ? null : { max: row.rate_limit_max, window_ms: row.rate_limit_window_ms },
    created_at: row.created_at,
    updated_at: row.updated_at,
    last_used_at: row.last_used_at,
    created_by: row.created_by,
    rotated_from: row.rotated_from,
    rotated_to: row.rotated_to,
  };
}

function toLookup(row: LookupRow | undefined): KeyLookup | undefined {
  if (!row) return undefined;
  return {
    key: toKey(row),
    org: {
      id: row.org_id,
      name: row.org_name,
      plan: row.plan,
      requests_per_hour: row.requests_per_hour,
      max_concurrency: row.max_concurrency,
      created_at: row.org_created_at,
    },
    usage: {
      hour_window: row.hour_window ?? 0,
      hour_count: row.hour_count ?? 0,
      own_window: row.own_window ?? 0,
      own_count: row.own_count ?? 0,
    },
  };
}

/** Creates the folder (0700) and the file (0600) before SQLite does, so a fresh database is owner-only. */
function prepareFile(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(path)) {
    closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
}

/** How long opening may keep retrying while other processes open or migrate the same file. */
const OPEN_RETRY_MS = 10_000;

function isBusy(err: unknown): boolean {
  return typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Opens, configures and migrates the database. Switching a fresh file to WAL takes an exclusive
 * lock, and two processes doing it at once can deadlock, in which case SQLite answers SQLITE_BUSY
 * to one of them at once, without waiting for the busy timeout: that one starts over.
 */
function openDatabase(path: string): Database.Database {
  const deadline = Date.now() + OPEN_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    const db = new Database(path);
    try {
      configure(db);
      return db;
    } catch (err) {
      db.close();
      if (!isBusy(err) || Date.now() >= deadline) throw err;
      sleep(Math.min(100, 10 * attempt));
    }
  }
}

function configure(db: Database.Database): void {
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw new SchemaTooNewError(version);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // A checkpoint resets the log; this bounds what stays on disk afterwards.
  db.pragma('journal_size_limit = 4194304');
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      // Another process opening the same new file may have migrated since we looked: look again under the write lock.
      if ((db.pragma('user_version', { simple: true }) as number) > v) return;
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

export class SqliteStore implements KeyStore {
  readonly db: Database.Database;
  private readonly statements;
  private readonly runInTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  /** Key pages read outside transactions, with the count of key changes they were read at. */
  private readonly pages = new Map<string, { changes: number; page: KeyRecord[] }>();

  constructor(private readonly path: string) {
    if (path !== ':memory:') prepareFile(path);
    this.db = openDatabase(path);
    const db = this.db;
    this.statements = {
      insertOrg: db.prepare(
        'INSERT INTO organizations (id, name, plan, requests_per_hour, max_concurrency, created_at) VALUES (@id, @name, @plan, @requests_per_hour, @max_concurrency, @created_at)',
      ),
      getOrg: db.prepare('SELECT * FROM organizations WHERE id = ?'),
      lookup: db.prepare(`${LOOKUP_SELECT} WHERE k.hash = ?`).raw(true),
      lookupById: db.prepare(`${LOOKUP_SELECT} WHERE k.id = ?`).raw(true),
      getKey: db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k LEFT JOIN usage u ON u.key_id = k.id WHERE k.org_id = ? AND k.id = ?`),
      listKeys: db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k LEFT JOIN usage u ON u.key_id = k.id
        WHERE k.org_id = @org AND (@all OR k.revoked_at IS NULL) AND (k.created_at, k.id) < (@created_at, @id)
        ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
      // A page without last_used_at, which every charge rewrites: what the page cache holds.
      listPage: db.prepare(`SELECT ${KEY_COLUMNS.replace('u.last_used_at', 'NULL AS last_used_at')} FROM keys k
        WHERE k.org_id = @org AND (@all OR k.revoked_at IS NULL) AND (k.created_at, k.id) < (@created_at, @id)
        ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
      lastUsed: db.prepare('SELECT key_id, last_used_at FROM usage WHERE key_id IN (SELECT value FROM json_each(?))').raw(true),
      keyChanges: db.prepare('SELECT n FROM key_changes WHERE id = 1').pluck(),
      // A write that changes nothing: rewrites one row without moving the count listed pages are kept by.
      probeWrite: db.prepare('UPDATE key_changes SET n = n WHERE id = 1'),
      insertKey: db.prepare(`INSERT INTO keys (id, org_id, hash, start, name, environment, permissions, allowed_ips, expires_at, enabled,
          revoked_at, rate_limit_max, rate_limit_window_ms, created_at, updated_at, created_by, rotated_from, rotated_to)
        VALUES (@id, @org_id, @hash, @start, @name, @environment, @permissions, @allowed_ips, @expires_at, @enabled,
          @revoked_at, @rate_limit_max, @rate_limit_window_ms, @created_at, @updated_at, @created_by, @rotated_from, @rotated_to)`),
      revokeKey: db.prepare('UPDATE keys SET revoked_at = @at, updated_at = @at WHERE id = @id AND revoked_at IS NULL'),
      rotateKey: db.prepare(`UPDATE keys SET rotated_to = @rotated_to, expires_at = @expires_at, revoked_at = @revoked_at, updated_at = @at
        WHERE id = @id AND revoked_at IS NULL AND rotated_to IS NULL`),
      updateKey: db.prepare(`UPDATE keys SET name = coalesce(@name, name), enabled = coalesce(@enabled, enabled), updated_at = @at
        WHERE id = @id AND revoked_at IS NULL`),
      saveUsage: db.prepare(`INSERT INTO usage (key_id, hour_window, hour_count, own_window, own_count, last_used_at)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (key_id) DO UPDATE SET hour_window = excluded.hour_window, hour_count = excluded.hour_count,
          own_window = excluded.own_window, own_count = excluded.own_count, last_used_at = excluded.last_used_at`),
      appendAudit: db.prepare(
        'INSERT INTO audit_events (org_id, key_id, actor_key_id, action, details, at) VALUES (@org_id, @key_id, @actor_key_id, @action, @details, @at)',
      ),
      listSigningKeys: db.prepare('SELECT kid, alg, secret, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC'),
      insertSigningKey: db.prepare('INSERT INTO signing_keys (kid, alg, secret, created_at, retired_at) VALUES (@kid, @alg, @secret, @created_at, @retired_at)'),
      retireSigningKey: db.prepare('UPDATE signing_keys SET retired_at = @at WHERE kid = @kid AND retired_at IS NULL'),
      replaceSigningKeySecret: db.prepare('UPDATE signing_keys SET secret = @to WHERE kid = @kid AND secret = @from'),
      pruneSigningKeys: db.prepare('DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?'),
    };
    const columns = this.statements.lookup.columns().map((c) => c.name);
    if (columns.join() !== LOOKUP_FIELDS.join()) throw new Error(`LOOKUP_FIELDS does not match the lookup columns: ${columns.join()}`);
    this.runInTransaction = db.transaction((fn: () => unknown) => fn());
  }

  transaction<T>(fn: () => T): T {
    // Nested calls run inside the outer transaction (better-sqlite3 uses a savepoint there).
    return this.runInTransaction.immediate(fn) as T;
  }

  insertOrganization(org: Organization): void {
    this.statements.insertOrg.run(org);
  }

  getOrganization(id: string): Organization | undefined {
    return this.statements.getOrg.get(id) as Organization | undefined;
  }

  /**
   * Why the database cannot take a write now, or undefined when it can: a committed write of one row
   * that changes nothing (a read-only file, a lock held too long, an I/O error fail it), and room on
   * its file system (see MIN_FREE_BYTES). For /healthz; the cause is for the operator's log.
   */
  writeProblem(): { error: string; code?: string } | undefined {
    try {
      this.transaction(() => this.statements.probeWrite.run());
      if (this.path === ':memory:') return undefined;
      const { bavail, bsize } = statfsSync(dirname(this.path));
      if (bavail * bsize < MIN_FREE_BYTES) return { error: `less than ${MIN_FREE_BYTES / 1024} KiB free beside the database`, code: 'ENOSPC' };
      return undefined;
    } catch (err) {
      return causeOf(err);
    }
  }

  /** How many organizations exist: `serve` bootstraps one on an empty database. */
  organizationCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM organizations').get() as { n: number }).n;
  }

  findByHash(hash: string): KeyLookup | undefined {
    return toLookup(lookupRow(this.statements.lookup.get(hash) as LookupValues | undefined));
  }

  findById(id: string): KeyLookup | undefined {
    return toLookup(lookupRow(this.statements.lookupById.get(id) as LookupValues | undefined));
  }

  listSigningKeys(): SigningKeyRecord[] {
    return this.statements.listSigningKeys.all() as SigningKeyRecord[];
  }

  insertSigningKey(key: SigningKeyRecord): void {
    this.statements.insertSigningKey.run(key);
  }

  retireSigningKey(kid: string, at: number): boolean {
    return this.statements.retireSigningKey.run({ kid, at }).changes === 1;
  }

  replaceSigningKeySecret(kid: string, from: string, to: string): boolean {
    return this.statements.replaceSigningKeySecret.run({ kid, from, to }).changes === 1;
  }

  pruneSigningKeys(before: number): number {
    return this.statements.pruneSigningKeys.run(before).changes;
  }

  getKey(orgId: string, id: string): KeyRecord | undefined {
    const row = this.statements.getKey.get(orgId, id) as KeyRow | undefined;
    return row && toKey(row);
  }

  listKeys(orgId: string, { after, limit, includeRevoked }: ListOptions): KeyRecord[] {
    const params = { org: orgId, all: includeRevoked ? 1 : 0, created_at: after?.created_at ?? Number.MAX_SAFE_INTEGER, id: after?.id ?? '', limit };
    // Inside a transaction the page may hold uncommitted rows: never cache those.
    if (this.db.inTransaction) return (this.statements.listKeys.all(params) as KeyRow[]).map(toKey);
    const page = this.cachedPage(params);
    const used = new Map(this.statements.lastUsed.all(JSON.stringify(page.map((k) => k.id))) as Array<[string, number | null]>);
    // Copies: no caller can change the cached page through what it gets.
    return page.map((k) => ({
      ...k,
      permissions: k.permissions.slice(),
      allowed_ips: k.allowed_ips.slice(),
      rate_limit: k.rate_limit && { ...k.rate_limit },
      last_used_at: used.get(k.id) ?? null,
    }));
  }

  /**
   * Pages of keys change only when keys are written, so a page is read once and kept until the
   * key_changes count moves (triggers count every write to keys, by any process). last_used_at is
   * not part of a page: every charge rewrites it, so listKeys reads it fresh for the page's keys.
   */
  private cachedPage(params: { org: string; all: number; created_at: number; id: string; limit: number }): KeyRecord[] {
    const changes = this.statements.keyChanges.get() as number;
    const cacheKey = `${params.org}|${params.all}|${params.created_at}|${params.id}|${params.limit}`;
    const hit = this.pages.get(cacheKey);
    if (hit !== undefined && hit.changes === changes) return hit.page;
    const page = (this.statements.listPage.all(params) as KeyRow[]).map(toKey);
    if (this.pages.size >= 256) this.pages.clear();
    this.pages.set(cacheKey, { changes, page });
    return page;
  }

  insertKey(key: KeyRecord): void {
    this.statements.insertKey.run({
      ...key,
      permissions: JSON.stringify(key.permissions),
      allowed_ips: JSON.stringify(key.allowed_ips),
      enabled: key.enabled ? 1 : 0,
      rate_limit_max: key.rate_limit?.max ?? null,
      rate_limit_window_ms: key.rate_limit?.window_ms ?? null,
    });
  }

  revokeKey(id: string, at: number): boolean {
    return this.statements.revokeKey.run({ id, at }).changes === 1;
  }

  rotateKey(id: string, change: { rotated_to: string; expires_at: number | null; revoked_at: number | null; at: number }): boolean {
    return this.statements.rotateKey.run({ id, ...change }).changes === 1;
  }

  updateKey(id: string, change: { name?: string; enabled?: boolean; at: number }): boolean {
    const enabled = change.enabled === undefined ? null : change.enabled ? 1 : 0;
    return this.statements.updateKey.run({ id, name: change.name ?? null, enabled, at: change.at }).changes === 1;
  }

  saveUsage(keyId: string, usage: Usage, usedAt: number): void {
    this.statements.saveUsage.run(keyId, usage.hour_window, usage.hour_count, usage.own_window, usage.own_count, usedAt);
  }

  appendAudit(event: AuditEvent): void {
    this.statements.appendAudit.run({ ...event, details: JSON.stringify(event.details) });
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
