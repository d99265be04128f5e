import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { type AuditEvent, KEY_STATES, type KeyRecord, type KeyState, type LeaseRecord, type Organization, type StoredEvent, type Usage, type UsageBucket, eventTypeOf } from '../core/model.js';
import { BoundedCache } from '../core/bounded-cache.js';
import { causeOf } from '../core/errors.js';
import type { BatchContext, BatchDecide, BatchDecision, EventQuery, KeyLookup, KeyRef, KeyStore, ListOptions, RevealRecord, SessionRecord, SigningKeyRecord, StoreOps, UsageQuery } from '../core/store.js';
import { type KeyRowOf, type LookupRowOf, keyOf, lookupOf } from './rows.js';
import { Turns } from './turns.js';

/**
 * Each entry moves the schema one version up; PRAGMA user_version records where a database stands.
 * Exported for the tests that build a database of an earlier version.
 */
export const MIGRATIONS: readonly string[] = [
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
  // MCP 2026-07-28 requestState: the secret that seals it, shared by every process, and the states already used.
  `CREATE TABLE server_secrets (name TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE used_request_states (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // Secrets waiting to be revealed once, sealed under a key derived from a code the database never holds.
  `CREATE TABLE reveals (id TEXT PRIMARY KEY, sealed TEXT NOT NULL, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX reveals_by_expiry ON reveals (expires_at);`,
  // Usage over time (hourly buckets per key), the audit trail readable by type, the list filters'
  // index, and concurrency shared by every process: each owner's in-flight requests and the leases.
  `CREATE TABLE usage_hours (
     key_id TEXT NOT NULL REFERENCES keys(id),
     hour INTEGER NOT NULL,
     org_id TEXT NOT NULL REFERENCES organizations(id),
     admitted INTEGER NOT NULL CHECK (admitted >= 0),
     rate_limited INTEGER NOT NULL CHECK (rate_limited >= 0),
     denied INTEGER NOT NULL CHECK (denied >= 0),
     PRIMARY KEY (key_id, hour)
   ) WITHOUT ROWID;
   CREATE INDEX usage_hours_by_org ON usage_hours (org_id, hour);
   CREATE INDEX usage_hours_by_hour ON usage_hours (hour);
   ALTER TABLE audit_events ADD COLUMN type TEXT;
   UPDATE audit_events SET type = CASE
     WHEN action = 'updated' AND json_type(details, '$.enabled') = 'true' THEN 'key.enabled'
     WHEN action = 'updated' AND json_type(details, '$.enabled') = 'false' THEN 'key.disabled'
     ELSE 'key.' || action END;
   CREATE INDEX audit_by_org ON audit_events (org_id, id);
   CREATE INDEX audit_by_org_type ON audit_events (org_id, type, id);
   CREATE INDEX audit_by_org_key ON audit_events (org_id, key_id, id);
   CREATE INDEX keys_by_org_environment ON keys (org_id, environment, created_at DESC, id DESC);
   CREATE INDEX usage_by_last_used ON usage (last_used_at);
   CREATE TABLE owners (id TEXT PRIMARY KEY, seen_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE slots (key_id TEXT NOT NULL, owner TEXT NOT NULL, n INTEGER NOT NULL CHECK (n > 0), PRIMARY KEY (key_id, owner)) WITHOUT ROWID;
   CREATE TABLE leases (
     id TEXT PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES organizations(id),
     key_id TEXT NOT NULL REFERENCES keys(id),
     owner TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     released_at INTEGER
   );
   CREATE INDEX leases_live ON leases (key_id, expires_at) WHERE released_at IS NULL;`,
  // The list filters' indexes. Names: a trigram index finds a substring among 100k names at once;
  // its rows are numbered through key_name_rows because keys' own rowids are not stable (VACUUM).
  // unused_since: every key gets its usage row when created, so "never used" is an indexed NULL.
  `CREATE TABLE key_name_rows (key_id TEXT PRIMARY KEY, n INTEGER NOT NULL UNIQUE) WITHOUT ROWID;
   CREATE VIRTUAL TABLE key_names USING fts5(name, tokenize = 'trigram');
   INSERT INTO key_name_rows (key_id, n) SELECT id, row_number() OVER (ORDER BY created_at, id) FROM keys;
   INSERT INTO key_names (rowid, name) SELECT r.n, k.name FROM keys k JOIN key_name_rows r ON r.key_id = k.id;
   CREATE TRIGGER key_name_added AFTER INSERT ON keys BEGIN
     INSERT INTO key_name_rows (key_id, n) VALUES (new.id, (SELECT coalesce(max(n), 0) + 1 FROM key_name_rows));
     INSERT INTO key_names (rowid, name) VALUES ((SELECT n FROM key_name_rows WHERE key_id = new.id), new.name);
     INSERT OR IGNORE INTO usage (key_id, hour_window, hour_count, own_window, own_count, last_used_at) VALUES (new.id, 0, 0, 0, 0, NULL);
   END;
   CREATE TRIGGER key_name_changed AFTER UPDATE OF name ON keys WHEN new.name IS NOT old.name BEGIN
     UPDATE key_names SET name = new.name WHERE rowid = (SELECT n FROM key_name_rows WHERE key_id = new.id);
   END;
   CREATE TRIGGER key_name_removed AFTER DELETE ON keys BEGIN
     DELETE FROM key_names WHERE rowid = (SELECT n FROM key_name_rows WHERE key_id = old.id);
     DELETE FROM key_name_rows WHERE key_id = old.id;
   END;
   INSERT OR IGNORE INTO usage (key_id, hour_window, hour_count, own_window, own_count, last_used_at) SELECT id, 0, 0, 0, 0, NULL FROM keys;`,
  // Dashboard sessions, kept by the hash of their token. Sign-ins join the audit trail: SQLite cannot
  // widen a CHECK, so audit_events is rebuilt with its ids, columns and indexes as they were (nothing
  // references it, and its rows keep referencing the same keys). The state filter's partial indexes:
  // the keys of a rarer state (disabled, with an expiry, revoked) in list order.
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES organizations(id),
     key_id TEXT NOT NULL REFERENCES keys(id),
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX sessions_by_expiry ON sessions (expires_at);
   CREATE TABLE audit_events_widened (
     id INTEGER PRIMARY KEY,
     org_id TEXT NOT NULL REFERENCES organizations(id),
     key_id TEXT NOT NULL REFERENCES keys(id),
     actor_key_id TEXT REFERENCES keys(id),
     action TEXT NOT NULL CHECK (action IN ('created', 'revoked', 'rotated', 'updated', 'signed_in')),
     details TEXT NOT NULL,
     at INTEGER NOT NULL,
     type TEXT
   );
   INSERT INTO audit_events_widened (id, org_id, key_id, actor_key_id, action, details, at, type)
     SELECT id, org_id, key_id, actor_key_id, action, details, at, type FROM audit_events ORDER BY id;
   DROP TABLE audit_events;
   ALTER TABLE audit_events_widened RENAME TO audit_events;
   CREATE INDEX audit_by_key ON audit_events (key_id, at);
   CREATE INDEX audit_by_org ON audit_events (org_id, id);
   CREATE INDEX audit_by_org_type ON audit_events (org_id, type, id);
   CREATE INDEX audit_by_org_key ON audit_events (org_id, key_id, id);
   CREATE INDEX keys_disabled ON keys (org_id, created_at DESC, id DESC) WHERE revoked_at IS NULL AND enabled = 0;
   CREATE INDEX keys_expiring ON keys (org_id, created_at DESC, id DESC) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
   CREATE INDEX keys_revoked ON keys (org_id, created_at DESC, id DESC) WHERE revoked_at IS NOT NULL;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

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

type KeyRow = KeyRowOf<string, number>;
type LookupRow = LookupRowOf<string, number>;

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
const parsedLists = new BoundedCache<string, readonly string[]>(1_000);

function parseList(json: string): string[] {
  // Each record owns its arrays, so no caller can change another's through the cache.
  return parsedLists.getOrSet(json, () => JSON.parse(json) as string[]).slice();
}

function toKey(row: KeyRow): KeyRecord {
  return keyOf(row, { permissions: parseList(row.permissions), allowed_ips: parseList(row.allowed_ips), enabled: row.enabled === 1 });
}

function toLookup(row: LookupRow | undefined): KeyLookup | undefined {
  return row && lookupOf(row, toKey(row));
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

/**
 * Less free space than this on the database's file system counts as full. A write that failed for lack
 * of space leaves WAL room a one-page probe can still use, so the probe alone would report a full
 * disk as writable; a key's insert needs a few pages, this allows several.
 */
const MIN_FREE_BYTES = 64 * 1024;
const HOUR_MS = 3_600_000;
/** How many of the newest keys a filtered list checks in order before it turns to an index. */
const FILTER_WINDOW = 2_000;
const DAY_MS = 86_400_000;
const NOTHING_HELD: ReadonlyMap<string, number> = new Map();

/**
 * Each state as a condition on keys k, with @now the time expiry is judged at. Written out (not as
 * a parameter) in the statements of listByState, so that each walks its state's partial index.
 */
const STATE_CONDITIONS: Readonly<Record<KeyState, string>> = {
  active: 'k.revoked_at IS NULL AND k.enabled = 1 AND (k.expires_at IS NULL OR k.expires_at > @now)',
  disabled: 'k.revoked_at IS NULL AND k.enabled = 0',
  expired: 'k.revoked_at IS NULL AND k.expires_at IS NOT NULL AND k.expires_at <= @now',
  revoked: 'k.revoked_at IS NOT NULL',
};

/** The state filter as a parameter (@state, null for none), for the statements shared by every filter. */
const STATE_MATCHES = `(@state IS NULL OR ${KEY_STATES.map((state) => `(@state = '${state}' AND ${STATE_CONDITIONS[state]})`).join(' OR ')})`;

/** The states whose keys are few enough to have a partial index of their own (active keys are most keys). */
const STATE_INDEXES = { disabled: 'keys_disabled', expired: 'keys_expiring', revoked: 'keys_revoked' } as const;
type IndexedState = keyof typeof STATE_INDEXES;

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

type Statements = ReturnType<typeof prepareStatements>;

function prepareStatements(db: Database.Database) {
  return {
    insertOrg: db.prepare(
      'INSERT INTO organizations (id, name, plan, requests_per_hour, max_concurrency, created_at) VALUES (@id, @name, @plan, @requests_per_hour, @max_concurrency, @created_at)',
    ),
    getOrg: db.prepare('SELECT * FROM organizations WHERE id = ?'),
    anyOrg: db.prepare('SELECT EXISTS (SELECT 1 FROM organizations)').pluck(),
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
      'INSERT INTO audit_events (org_id, key_id, actor_key_id, action, details, at, type) VALUES (@org_id, @key_id, @actor_key_id, @action, @details, @at, @type)',
    ),
    listEvents: db.prepare(`SELECT id, org_id, key_id, actor_key_id, action, details, at, type FROM audit_events
      WHERE org_id = @org AND (@key IS NULL OR key_id = @key) AND (@type IS NULL OR type = @type) AND id < @before
      ORDER BY id DESC LIMIT @limit`),
    // Filtered pages: the environment filter walks keys_by_org_environment, the others check each key of the org's index in order until the page is full.
    // The newest FILTER_WINDOW keys only: when they fill the page, it is the page, and a common match never reaches the indexes below.
    listWindow: db.prepare(`SELECT ${KEY_COLUMNS} FROM (SELECT id FROM keys WHERE org_id = @org AND (created_at, id) < (@created_at, @id)
          ORDER BY created_at DESC, id DESC LIMIT ${FILTER_WINDOW}) w CROSS JOIN keys k ON k.id = w.id LEFT JOIN usage u ON u.key_id = k.id
      WHERE (@all OR k.revoked_at IS NULL) AND (@environment IS NULL OR k.environment = @environment)
        AND (@name IS NULL OR instr(lower(k.name), @name) > 0)
        AND (@unused IS NULL OR u.last_used_at IS NULL OR u.last_used_at < @unused) AND ${STATE_MATCHES}
      ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
    listFiltered: db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k LEFT JOIN usage u ON u.key_id = k.id
      WHERE k.org_id = @org AND (@all OR k.revoked_at IS NULL) AND (k.created_at, k.id) < (@created_at, @id)
        AND (@environment IS NULL OR k.environment = @environment)
        AND (@name IS NULL OR instr(lower(k.name), @name) > 0)
        AND (@unused IS NULL OR u.last_used_at IS NULL OR u.last_used_at < @unused) AND ${STATE_MATCHES}
      ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
    listByEnvironment: db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k INDEXED BY keys_by_org_environment LEFT JOIN usage u ON u.key_id = k.id
      WHERE k.org_id = @org AND k.environment = @environment AND (@all OR k.revoked_at IS NULL) AND (k.created_at, k.id) < (@created_at, @id)
      ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
    // A name of three characters or more: the keys come from the trigram index, then the other filters.
    listByName: db.prepare(`SELECT ${KEY_COLUMNS} FROM key_names f CROSS JOIN key_name_rows r ON r.n = f.rowid CROSS JOIN keys k ON k.id = r.key_id
        LEFT JOIN usage u ON u.key_id = k.id
      WHERE key_names MATCH @phrase AND k.org_id = @org AND (@all OR k.revoked_at IS NULL) AND (k.created_at, k.id) < (@created_at, @id)
        AND (@environment IS NULL OR k.environment = @environment)
        AND instr(lower(k.name), @name) > 0
        AND (@unused IS NULL OR u.last_used_at IS NULL OR u.last_used_at < @unused) AND ${STATE_MATCHES}
      ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
    // Unused keys (every key has a usage row): found through usage_by_last_used, then ordered.
    listUnused: db.prepare(`SELECT ${KEY_COLUMNS} FROM usage u CROSS JOIN keys k ON k.id = u.key_id
      WHERE (u.last_used_at IS NULL OR u.last_used_at < @unused) AND k.org_id = @org AND (@all OR k.revoked_at IS NULL)
        AND (k.created_at, k.id) < (@created_at, @id) AND (@environment IS NULL OR k.environment = @environment) AND ${STATE_MATCHES}
      ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
    // A rarer state: its keys come from the state's partial index, in list order, then the other filters.
    listByState: Object.fromEntries(
      Object.entries(STATE_INDEXES).map(([state, index]) => [
        state,
        db.prepare(`SELECT ${KEY_COLUMNS} FROM keys k INDEXED BY ${index} LEFT JOIN usage u ON u.key_id = k.id
          WHERE k.org_id = @org AND ${STATE_CONDITIONS[state as IndexedState]} AND (k.created_at, k.id) < (@created_at, @id)
            AND (@environment IS NULL OR k.environment = @environment)
            AND (@name IS NULL OR instr(lower(k.name), @name) > 0)
            AND (@unused IS NULL OR u.last_used_at IS NULL OR u.last_used_at < @unused)
          ORDER BY k.created_at DESC, k.id DESC LIMIT @limit`),
      ]),
    ) as Record<IndexedState, Database.Statement>,
    addOutcomes: db.prepare(`INSERT INTO usage_hours (key_id, hour, org_id, admitted, rate_limited, denied) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (key_id, hour) DO UPDATE SET admitted = admitted + excluded.admitted,
        rate_limited = rate_limited + excluded.rate_limited, denied = denied + excluded.denied`),
    usageOfOrg: db.prepare(`SELECT hour, sum(admitted) AS admitted, sum(rate_limited) AS rate_limited, sum(denied) AS denied
      FROM usage_hours WHERE org_id = ? AND hour >= ? AND hour < ? GROUP BY hour ORDER BY hour`),
    usageOfKey: db.prepare(`SELECT hour, admitted, rate_limited, denied FROM usage_hours
      WHERE key_id = ? AND org_id = ? AND hour >= ? AND hour < ? ORDER BY hour`),
    topKeys: db.prepare(`SELECT key_id, min(hour) AS hour, sum(admitted) AS admitted, sum(rate_limited) AS rate_limited, sum(denied) AS denied
      FROM usage_hours WHERE org_id = ? AND hour >= ? AND hour < ? GROUP BY key_id
      ORDER BY sum(admitted) + sum(rate_limited) + sum(denied) DESC, key_id LIMIT ?`),
    pruneUsage: db.prepare('DELETE FROM usage_hours WHERE hour < ?'),
    held: db.prepare(`SELECT
        (SELECT coalesce(sum(s.n), 0) FROM slots s JOIN owners o ON o.id = s.owner WHERE s.key_id = @key AND s.owner <> @owner AND o.seen_at > @live)
      + (SELECT count(*) FROM leases l LEFT JOIN owners o ON o.id = l.owner
          WHERE l.key_id = @key AND l.released_at IS NULL AND l.expires_at > @now AND (l.owner = @owner OR o.seen_at > @live))`).pluck(),
    seeOwner: db.prepare('INSERT INTO owners (id, seen_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET seen_at = max(seen_at, excluded.seen_at)'),
    setSlots: db.prepare('INSERT INTO slots (key_id, owner, n) VALUES (?, ?, ?) ON CONFLICT (key_id, owner) DO UPDATE SET n = excluded.n'),
    clearSlots: db.prepare('DELETE FROM slots WHERE key_id = ? AND owner = ?'),
    insertLease: db.prepare(
      'INSERT INTO leases (id, org_id, key_id, owner, expires_at, created_at, released_at) VALUES (@id, @org_id, @key_id, @owner, @expires_at, @created_at, @released_at)',
    ),
    releaseLease: db.prepare('UPDATE leases SET released_at = @at WHERE id = @id AND org_id = @org AND released_at IS NULL'),
    getLease: db.prepare('SELECT id, org_id, key_id, owner, expires_at, created_at, released_at FROM leases WHERE id = ? AND org_id = ?'),
    forgetDeadOwners: db.prepare('DELETE FROM owners WHERE seen_at <= ?'),
    forgetOrphanSlots: db.prepare('DELETE FROM slots WHERE owner NOT IN (SELECT id FROM owners)'),
    forgetOldLeases: db.prepare('DELETE FROM leases WHERE expires_at <= ?'),
    listSigningKeys: db.prepare('SELECT kid, alg, secret, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC'),
    insertSigningKey: db.prepare('INSERT INTO signing_keys (kid, alg, secret, created_at, retired_at) VALUES (@kid, @alg, @secret, @created_at, @retired_at)'),
    retireSigningKey: db.prepare('UPDATE signing_keys SET retired_at = @at WHERE kid = @kid AND retired_at IS NULL'),
    replaceSigningKeySecret: db.prepare('UPDATE signing_keys SET secret = @to WHERE kid = @kid AND secret = @from'),
    pruneSigningKeys: db.prepare('DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?'),
    insertServerSecret: db.prepare('INSERT OR IGNORE INTO server_secrets (name, secret, created_at) VALUES (?, ?, ?)'),
    serverSecret: db.prepare('SELECT secret FROM server_secrets WHERE name = ?').pluck(),
    forgetRequestStates: db.prepare('DELETE FROM used_request_states WHERE expires_at <= ?'),
    useRequestState: db.prepare('INSERT OR IGNORE INTO used_request_states (nonce, expires_at) VALUES (?, ?)'),
    forgetReveals: db.prepare('DELETE FROM reveals WHERE expires_at <= ?'),
    insertReveal: db.prepare('INSERT INTO reveals (id, sealed, expires_at, created_at) VALUES (@id, @sealed, @expires_at, @created_at)'),
    takeReveal: db.prepare('DELETE FROM reveals WHERE id = ? RETURNING id, sealed, expires_at, created_at'),
    hasReveal: db.prepare('SELECT EXISTS (SELECT 1 FROM reveals WHERE id = ? AND expires_at > ?)').pluck(),
    forgetSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
    insertSession: db.prepare('INSERT INTO sessions (id, org_id, key_id, created_at, expires_at) VALUES (@id, @org_id, @key_id, @created_at, @expires_at)'),
    session: db.prepare('SELECT id, org_id, key_id, created_at, expires_at FROM sessions WHERE id = @id AND expires_at > @now'),
    touchSession: db.prepare('UPDATE sessions SET expires_at = @until WHERE id = @id AND expires_at > @now RETURNING id, org_id, key_id, created_at, expires_at'),
    deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
  };
}

/**
 * The statements, run synchronously (better-sqlite3 is synchronous): what a transaction's handle and
 * the store's own methods both call. Each answers a settled promise, so the async interface costs a
 * promise per call and nothing else.
 */
class SqliteOps implements StoreOps {
  /** Key pages read outside transactions, with the count of key changes they were read at. */
  private readonly pages = new BoundedCache<string, { changes: number; page: KeyRecord[] }>(256);

  constructor(
    readonly db: Database.Database,
    readonly statements: Statements,
  ) {}

  async insertOrganization(org: Organization): Promise<void> {
    this.statements.insertOrg.run(org);
  }

  async getOrganization(id: string): Promise<Organization | undefined> {
    return this.statements.getOrg.get(id) as Organization | undefined;
  }

  async hasOrganizations(): Promise<boolean> {
    return this.statements.anyOrg.get() === 1;
  }

  async findByHash(hash: string): Promise<KeyLookup | undefined> {
    return this.lookup({ hash });
  }

  async findById(id: string): Promise<KeyLookup | undefined> {
    return this.lookup({ id });
  }

  lookup(ref: KeyRef): KeyLookup | undefined {
    const row = 'hash' in ref ? this.statements.lookup.get(ref.hash) : this.statements.lookupById.get(ref.id);
    return toLookup(lookupRow(row as LookupValues | undefined));
  }

  async getKey(orgId: string, id: string): Promise<KeyRecord | undefined> {
    const row = this.statements.getKey.get(orgId, id) as KeyRow | undefined;
    return row && toKey(row);
  }

  async listKeys(orgId: string, { after, limit, includeRevoked, environment, name, unusedSince, state, now }: ListOptions): Promise<KeyRecord[]> {
    if ((state === 'active' || state === 'expired') && now === undefined) throw new Error(`listing ${state} keys needs the time expiry is judged at`);
    // A state says itself whether revoked keys belong: only `revoked` lists them, and it lists them whatever includeRevoked says.
    const all = includeRevoked || state !== undefined ? 1 : 0;
    const params = { org: orgId, all, created_at: after?.created_at ?? Number.MAX_SAFE_INTEGER, id: after?.id ?? '', limit };
    // Filtered pages are never cached: `active` and `expired` change with time alone, with no write to count.
    if (environment !== undefined || name !== undefined || unusedSince !== undefined || state !== undefined) {
      const filters = {
        environment: environment ?? null,
        name: name === undefined ? null : name.toLowerCase(),
        unused: unusedSince ?? null,
        state: state ?? null,
        now: now ?? null,
      };
      const s = this.statements;
      const args = { ...params, ...filters };
      if (name === undefined && unusedSince === undefined && state === undefined) return (s.listByEnvironment.all(args) as KeyRow[]).map(toKey);
      const newest = s.listWindow.all(args) as KeyRow[];
      if (newest.length === limit) return newest.map(toKey);
      // A rare match: the most selective index, a name's trigrams, else a rarer state's keys, else the
      // unused keys, else the organization's index in order.
      const rows =
        name !== undefined && name.length >= 3
          ? s.listByName.all({ ...args, phrase: `"${name.replace(/"/g, '""')}"` })
          : state !== undefined && state !== 'active'
            ? s.listByState[state].all(args)
            : unusedSince !== undefined && name === undefined
              ? s.listUnused.all(args)
              : s.listFiltered.all(args);
      return (rows as KeyRow[]).map(toKey);
    }
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
    return this.pages.set(cacheKey, { changes, page: (this.statements.listPage.all(params) as KeyRow[]).map(toKey) }).page;
  }

  async insertKey(key: KeyRecord): Promise<void> {
    this.statements.insertKey.run({
      ...key,
      permissions: JSON.stringify(key.permissions),
      allowed_ips: JSON.stringify(key.allowed_ips),
      enabled: key.enabled ? 1 : 0,
      rate_limit_max: key.rate_limit?.max ?? null,
      rate_limit_window_ms: key.rate_limit?.window_ms ?? null,
    });
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    return this.statements.revokeKey.run({ id, at }).changes === 1;
  }

  async rotateKey(id: string, change: { rotated_to: string; expires_at: number | null; revoked_at: number | null; at: number }): Promise<boolean> {
    return this.statements.rotateKey.run({ id, ...change }).changes === 1;
  }

  async updateKey(id: string, change: { name?: string; enabled?: boolean; at: number }): Promise<boolean> {
    const enabled = change.enabled === undefined ? null : change.enabled ? 1 : 0;
    return this.statements.updateKey.run({ id, name: change.name ?? null, enabled, at: change.at }).changes === 1;
  }

  saveUsage(keyId: string, usage: Usage, usedAt: number): void {
    this.statements.saveUsage.run(keyId, usage.hour_window, usage.hour_count, usage.own_window, usage.own_count, usedAt);
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    this.statements.appendAudit.run({ ...event, details: JSON.stringify(event.details), type: eventTypeOf(event) });
  }

  async listEvents(orgId: string, { keyId, type, beforeId, limit }: EventQuery): Promise<StoredEvent[]> {
    const rows = this.statements.listEvents.all({ org: orgId, key: keyId ?? null, type: type ?? null, before: beforeId ?? Number.MAX_SAFE_INTEGER, limit }) as Array<
      Omit<StoredEvent, 'details'> & { details: string }
    >;
    return rows.map((row) => ({ ...row, details: JSON.parse(row.details) as Record<string, unknown> }));
  }

  async usageBuckets(orgId: string, { keyId, from, to }: UsageQuery): Promise<UsageBucket[]> {
    const s = this.statements;
    return (keyId === undefined ? s.usageOfOrg.all(orgId, from, to) : s.usageOfKey.all(keyId, orgId, from, to)) as UsageBucket[];
  }

  async topKeys(orgId: string, { from, to, limit }: UsageQuery & { limit: number }): Promise<Array<UsageBucket & { key_id: string }>> {
    return this.statements.topKeys.all(orgId, from, to, limit) as Array<UsageBucket & { key_id: string }>;
  }

  async pruneUsage(before: number): Promise<number> {
    return this.statements.pruneUsage.run(before).changes;
  }

  async releaseLease(orgId: string, id: string, at: number): Promise<LeaseRecord | undefined> {
    this.statements.releaseLease.run({ id, org: orgId, at });
    return this.statements.getLease.get(id, orgId) as LeaseRecord | undefined;
  }

  async heartbeat(owner: string, at: number): Promise<void> {
    const s = this.statements;
    this.db.transaction(() => {
      s.seeOwner.run(owner, at);
      // Whatever died or ended long ago goes; a day keeps released leases answerable (a second release is a no-op, not a 404).
      s.forgetDeadOwners.run(at - DAY_MS);
      s.forgetOrphanSlots.run();
      s.forgetOldLeases.run(at - DAY_MS);
    })();
  }

  /** Slots held elsewhere for each key found, read under the batch's write lock. */
  heldElsewhere(found: ReadonlyArray<KeyLookup | undefined>, context: BatchContext, now: number): Map<string, number> {
    const held = new Map<string, number>();
    for (const lookup of found) {
      if (lookup && !held.has(lookup.key.id)) {
        held.set(lookup.key.id, this.statements.held.get({ key: lookup.key.id, owner: context.owner, live: context.liveAfter, now }) as number);
      }
    }
    return held;
  }

  saveBatch(decision: BatchDecision<unknown>, at: number, context: BatchContext | undefined): void {
    const s = this.statements;
    if (decision.outcomes) {
      const hour = at - (at % HOUR_MS);
      for (const [keyId, c] of decision.outcomes) s.addOutcomes.run(keyId, hour, c.org_id, c.admitted, c.rate_limited, c.denied);
    }
    for (const lease of decision.leases ?? []) s.insertLease.run(lease);
    if (context && (decision.slots?.size || decision.leases?.length)) {
      s.seeOwner.run(context.owner, at);
      for (const [keyId, n] of decision.slots ?? []) {
        if (n > 0) s.setSlots.run(keyId, context.owner, n);
        else s.clearSlots.run(keyId, context.owner);
      }
    }
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.statements.listSigningKeys.all() as SigningKeyRecord[];
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<void> {
    this.statements.insertSigningKey.run(key);
  }

  async retireSigningKey(kid: string, at: number): Promise<boolean> {
    return this.statements.retireSigningKey.run({ kid, at }).changes === 1;
  }

  async replaceSigningKeySecret(kid: string, from: string, to: string): Promise<boolean> {
    return this.statements.replaceSigningKeySecret.run({ kid, from, to }).changes === 1;
  }

  async pruneSigningKeys(before: number): Promise<number> {
    return this.statements.pruneSigningKeys.run(before).changes;
  }

  async serverSecret(name: string, make: () => string, at: number): Promise<string> {
    // The first process to ask creates it; every later one, in any process, reads the same value.
    this.statements.insertServerSecret.run(name, make(), at);
    return this.statements.serverSecret.get(name) as string;
  }

  async useRequestState(nonce: string, expiresAt: number, now: number): Promise<boolean> {
    this.statements.forgetRequestStates.run(now);
    return this.statements.useRequestState.run(nonce, expiresAt).changes === 1;
  }

  /** Writes that commit together: in a transaction of their own, or as part of the caller's. */
  private atomically(run: () => void): void {
    if (this.db.inTransaction) run();
    else this.db.transaction(run).immediate();
  }

  async insertReveal(reveal: RevealRecord): Promise<void> {
    this.atomically(() => {
      this.statements.forgetReveals.run(reveal.created_at);
      this.statements.insertReveal.run(reveal);
    });
  }

  async takeReveal(id: string, now: number): Promise<RevealRecord | undefined> {
    // One statement deletes and answers it, so two processes racing for one code cannot both get it.
    const row = this.statements.takeReveal.get(id) as RevealRecord | undefined;
    this.statements.forgetReveals.run(now);
    return row !== undefined && row.expires_at > now ? row : undefined;
  }

  async hasReveal(id: string, now: number): Promise<boolean> {
    return this.statements.hasReveal.get(id, now) === 1;
  }

  async insertSession(session: SessionRecord): Promise<void> {
    this.atomically(() => {
      this.statements.forgetSessions.run(session.created_at);
      this.statements.insertSession.run(session);
    });
  }

  async touchSession(id: string, now: number, until: number, ifBefore = Number.MAX_SAFE_INTEGER): Promise<SessionRecord | undefined> {
    // A read first: most requests find the session touched lately and write nothing.
    const session = this.statements.session.get({ id, now }) as SessionRecord | undefined;
    if (session === undefined || session.expires_at >= ifBefore) return session;
    return this.statements.touchSession.get({ id, now, until }) as SessionRecord | undefined;
  }

  async deleteSession(id: string): Promise<boolean> {
    return this.statements.deleteSession.run(id).changes === 1;
  }
}

type Decide = BatchDecide<unknown>;

const OPS_METHODS = [
  'insertOrganization', 'getOrganization', 'hasOrganizations', 'findByHash', 'findById', 'getKey', 'listKeys', 'insertKey', 'revokeKey',
  'rotateKey', 'updateKey', 'appendAudit', 'listSigningKeys', 'insertSigningKey', 'retireSigningKey', 'replaceSigningKeySecret', 'pruneSigningKeys', 'serverSecret',
  'useRequestState', 'insertReveal', 'takeReveal', 'hasReveal', 'listEvents', 'usageBuckets', 'topKeys', 'pruneUsage', 'releaseLease', 'heartbeat',
  'insertSession', 'touchSession', 'deleteSession',
] as const satisfies ReadonlyArray<keyof StoreOps>;

/**
 * The store on one SQLite file (or `:memory:`), shared by every process that opens it (WAL).
 *
 * One connection serves the whole process, so an open transaction would see, and swallow, any other
 * statement run on it meanwhile: its calls take turns (./turns.ts).
 */
/** The StoreOps methods, each installed in the constructor to take its turn (see Turns.install). */
export interface SqliteStore extends StoreOps {}

export class SqliteStore implements KeyStore {
  /** The connection, for this store's own tests (raw SQL checks); nothing outside src/store and its tests uses it. */
  readonly db: Database.Database;
  private readonly ops: SqliteOps;
  private readonly turns = new Turns();
  /** One gate flush as one write transaction, built once (better-sqlite3's transaction functions are costly to make). */
  private readonly charge: Database.Transaction<(refs: readonly KeyRef[], decide: Decide, at: number | undefined, context: BatchContext | undefined) => unknown[]>;

  constructor(private readonly path: string) {
    if (path !== ':memory:') prepareFile(path);
    this.db = openDatabase(path);
    const statements = prepareStatements(this.db);
    const columns = statements.lookup.columns().map((c) => c.name);
    if (columns.join() !== LOOKUP_FIELDS.join()) throw new Error(`LOOKUP_FIELDS does not match the lookup columns: ${columns.join()}`);
    this.ops = new SqliteOps(this.db, statements);
    this.charge = this.db.transaction((refs, decide, at, context) => {
      // The file is on this machine: its clock is the process's.
      const now = at ?? Date.now();
      const seen = new Map<string, KeyLookup | undefined>();
      const found = refs.map((ref) => {
        const cacheKey = 'hash' in ref ? `h:${ref.hash}` : `i:${ref.id}`;
        if (!seen.has(cacheKey)) seen.set(cacheKey, this.ops.lookup(ref));
        return seen.get(cacheKey);
      });
      const decision = decide(found, now, context ? this.ops.heldElsewhere(found, context, now) : NOTHING_HELD);
      for (const [keyId, counts] of decision.usage) this.ops.saveUsage(keyId, counts, now);
      this.ops.saveBatch(decision, now, context);
      return decision.results;
    });
    this.turns.install(this, Object.fromEntries(OPS_METHODS.map((name) => [name, this.ops[name].bind(this.ops)])) as unknown as StoreOps);
  }

  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    return this.turns.exclusive(async () => {
      const db = this.db;
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.ops);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  chargeBatch<T>(
    refs: readonly KeyRef[],
    decide: BatchDecide<T>,
    at?: number,
    context?: BatchContext,
  ): Promise<T[]> {
    return this.turns.whenFree(async () => this.charge.immediate(refs, decide as Decide, at, context) as T[]);
  }

  async writeProblem(): Promise<{ error: string; code?: string } | undefined> {
    try {
      await this.turns.whenFree(async () => void this.db.transaction(() => this.ops.statements.probeWrite.run()).immediate());
      if (this.path === ':memory:') return undefined;
      const { bavail, bsize } = statfsSync(dirname(this.path));
      if (bavail * bsize < MIN_FREE_BYTES) return { error: `less than ${MIN_FREE_BYTES / 1024} KiB free beside the database`, code: 'ENOSPC' };
      return undefined;
    } catch (err) {
      return causeOf(err);
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
