import type { PoolClient } from 'pg';

/**
 * Each entry moves the schema one version up; the table dispersl_schema records where a database
 * stands. Times are epoch milliseconds (bigint), as in the SQLite schema; ids sort bytewise
 * (COLLATE "C") so keyset pages come out in the same order on every backend. Exported for the tests
 * that build a database of an earlier version.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE organizations (
     id text COLLATE "C" PRIMARY KEY,
     name text NOT NULL,
     plan text NOT NULL CHECK (plan IN ('free', 'pro', 'enterprise')),
     requests_per_hour integer CHECK (requests_per_hour > 0),
     max_concurrency integer CHECK (max_concurrency > 0),
     created_at bigint NOT NULL
   );
   CREATE TABLE keys (
     id text COLLATE "C" PRIMARY KEY,
     org_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
     hash text COLLATE "C" NOT NULL UNIQUE,
     start text NOT NULL,
     name text NOT NULL,
     environment text NOT NULL CHECK (environment IN ('live', 'test')),
     permissions jsonb NOT NULL,
     allowed_ips jsonb NOT NULL,
     expires_at bigint,
     enabled boolean NOT NULL,
     revoked_at bigint,
     rate_limit_max integer,
     rate_limit_window_ms bigint,
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL,
     created_by text COLLATE "C" REFERENCES keys(id),
     rotated_from text COLLATE "C" REFERENCES keys(id),
     rotated_to text COLLATE "C" REFERENCES keys(id)
   );
   CREATE INDEX keys_by_org ON keys (org_id, created_at DESC, id DESC);
   CREATE TABLE usage (
     key_id text COLLATE "C" PRIMARY KEY REFERENCES keys(id),
     hour_window bigint NOT NULL,
     hour_count integer NOT NULL CHECK (hour_count >= 0),
     own_window bigint NOT NULL,
     own_count integer NOT NULL CHECK (own_count >= 0),
     last_used_at bigint
   );
   CREATE TABLE audit_events (
     id bigserial PRIMARY KEY,
     org_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
     key_id text COLLATE "C" NOT NULL REFERENCES keys(id),
     actor_key_id text COLLATE "C" REFERENCES keys(id),
     action text NOT NULL CHECK (action IN ('created', 'revoked', 'rotated', 'updated')),
     details jsonb NOT NULL,
     at bigint NOT NULL
   );
   CREATE INDEX audit_by_key ON audit_events (key_id, at);
   CREATE TABLE signing_keys (
     kid text PRIMARY KEY,
     alg text NOT NULL CHECK (alg IN ('HS256')),
     secret text NOT NULL,
     created_at bigint NOT NULL,
     retired_at bigint
   );
   CREATE UNIQUE INDEX one_current_signing_key ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
   CREATE TABLE server_secrets (name text PRIMARY KEY, secret text NOT NULL, created_at bigint NOT NULL);
   CREATE TABLE used_request_states (nonce text PRIMARY KEY, expires_at bigint NOT NULL);
   CREATE INDEX used_request_states_by_expiry ON used_request_states (expires_at);`,
  // Secrets waiting for their one reveal, sealed under a key derived from the code.
  `CREATE TABLE reveals (id text COLLATE "C" PRIMARY KEY, sealed text NOT NULL, expires_at bigint NOT NULL, created_at bigint NOT NULL);
   CREATE INDEX reveals_by_expiry ON reveals (expires_at);`,
  // Usage over time (hourly buckets per key), the audit trail readable by its public type, the list
  // filters' indexes, and concurrency shared by every process: each owner's in-flight requests and
  // the leases. A name filter is a case-insensitive substring (strpos over lower(name)): it checks
  // the organization's keys in keys_by_org order, needing no extension (pg_trgm may be missing).
  // audit_events.type stays nullable, so a process of the previous version still running while
  // this one migrates can append events; the backfill mirrors eventTypeOf (src/core/model.ts).
  `CREATE TABLE usage_hours (
     key_id text COLLATE "C" NOT NULL REFERENCES keys(id),
     hour bigint NOT NULL,
     org_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
     admitted integer NOT NULL CHECK (admitted >= 0),
     rate_limited integer NOT NULL CHECK (rate_limited >= 0),
     denied integer NOT NULL CHECK (denied >= 0),
     PRIMARY KEY (key_id, hour)
   );
   CREATE INDEX usage_hours_by_org ON usage_hours (org_id, hour);
   CREATE INDEX usage_hours_by_hour ON usage_hours (hour);
   ALTER TABLE audit_events ADD COLUMN type text CHECK (type IN ('key.created', 'key.revoked', 'key.rotated', 'key.updated', 'key.disabled', 'key.enabled', 'session.created'));
   UPDATE audit_events SET type = CASE
     WHEN action = 'updated' AND jsonb_typeof(details -> 'enabled') = 'boolean'
       THEN CASE WHEN (details ->> 'enabled')::boolean THEN 'key.enabled' ELSE 'key.disabled' END
     ELSE 'key.' || action END;
   CREATE INDEX audit_by_org ON audit_events (org_id, id);
   CREATE INDEX audit_by_org_type ON audit_events (org_id, type, id);
   CREATE INDEX audit_by_org_key ON audit_events (org_id, key_id, id);
   CREATE INDEX keys_by_org_environment ON keys (org_id, environment, created_at DESC, id DESC);
   CREATE INDEX usage_by_last_used ON usage (last_used_at);
   CREATE TABLE owners (id text COLLATE "C" PRIMARY KEY, seen_at bigint NOT NULL);
   CREATE TABLE slots (
     key_id text COLLATE "C" NOT NULL,
     owner text COLLATE "C" NOT NULL,
     n integer NOT NULL CHECK (n > 0),
     PRIMARY KEY (key_id, owner)
   );
   CREATE TABLE leases (
     id text COLLATE "C" PRIMARY KEY,
     org_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
     key_id text COLLATE "C" NOT NULL REFERENCES keys(id),
     owner text COLLATE "C" NOT NULL,
     expires_at bigint NOT NULL,
     created_at bigint NOT NULL,
     released_at bigint
   );
   CREATE INDEX leases_live ON leases (key_id, expires_at) WHERE released_at IS NULL;
   CREATE INDEX leases_by_expiry ON leases (expires_at);`,
  // Dashboard sessions, kept by the hash of their token; sign-ins join the audit trail (the action
  // CHECK, named by PostgreSQL after its table and column, is widened); the state filter's partial
  // indexes: the keys of a rarer state (disabled, with an expiry, revoked) in list order.
  `CREATE TABLE sessions (
     id text COLLATE "C" PRIMARY KEY,
     org_id text COLLATE "C" NOT NULL REFERENCES organizations(id),
     key_id text COLLATE "C" NOT NULL REFERENCES keys(id),
     created_at bigint NOT NULL,
     expires_at bigint NOT NULL
   );
   CREATE INDEX sessions_by_expiry ON sessions (expires_at);
   -- Only widened: every row already passes, so NOT VALID spares a scan of the table under its lock.
   ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check,
     ADD CONSTRAINT audit_events_action_check CHECK (action IN ('created', 'revoked', 'rotated', 'updated', 'signed_in')) NOT VALID;
   CREATE INDEX keys_disabled ON keys (org_id, created_at DESC, id DESC) WHERE revoked_at IS NULL AND NOT enabled;
   CREATE INDEX keys_expiring ON keys (org_id, created_at DESC, id DESC) WHERE revoked_at IS NULL AND expires_at IS NOT NULL;
   CREATE INDEX keys_revoked ON keys (org_id, created_at DESC, id DESC) WHERE revoked_at IS NOT NULL;`,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Advisory lock ids (pg_advisory_xact_lock(class, id)): one class for this product, one id per purpose. */
export const LOCK_CLASS = 0x44_69_73_70; // 'Disp'
export const MIGRATION_LOCK = 1;
/** Held by every store transaction: what SQLite's BEGIN IMMEDIATE is to a file, this is to the database. */
export const WRITE_LOCK = 2;

export class PgSchemaTooNewError extends Error {
  constructor(readonly found: number) {
    super(`the database has schema version ${found}, newer than this dispersl-mcp supports (${PG_SCHEMA_VERSION}); upgrade dispersl-mcp`);
  }
}

/**
 * Brings the database up to this version, once however many processes start together: the first
 * to take the migration lock migrates, the others wait for it and then find nothing left to do.
 * A database at a newer version than this code knows is refused before anything is changed.
 */
export async function migrate(client: PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    // A migration of a large table may take longer than a request may.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS dispersl_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
    const found = (await client.query<{ version: number }>('SELECT version FROM dispersl_schema WHERE id = 1')).rows[0]?.version ?? 0;
    if (found > PG_SCHEMA_VERSION) throw new PgSchemaTooNewError(found);
    for (let v = found; v < PG_SCHEMA_VERSION; v++) await client.query(MIGRATIONS[v]!);
    if (found < PG_SCHEMA_VERSION) {
      await client.query('INSERT INTO dispersl_schema (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version', [PG_SCHEMA_VERSION]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
