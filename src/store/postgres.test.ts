import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Gate } from '../core/auth.js';
import { DisperslError } from '../core/errors.js';
import { HOUR_MS } from '../core/limits.js';
import { KeyService } from '../core/service.js';
import { credential } from '../testing/fixtures.js';
import { type PgCluster, startCluster } from '../testing/postgres.js';
import { describeLocation, isPostgresUrl, openStore } from './open.js';
import { PG_SCHEMA_VERSION, PostgresStore } from './postgres.js';
import { MIGRATIONS } from './postgres/schema.js';

/** What is particular to PostgreSQL; what every backend does is in the contract (postgres.contract.test.ts). */

describe('naming a PostgreSQL database', () => {
  it('takes postgres:// and postgresql:// URLs for PostgreSQL and anything else for a SQLite file', () => {
    expect(isPostgresUrl('postgres://u@db.internal/keys')).toBe(true);
    expect(isPostgresUrl('postgresql://u@db.internal/keys')).toBe(true);
    expect(isPostgresUrl('/var/lib/dispersl/keys.db')).toBe(false);
    expect(isPostgresUrl('./postgres://not-a-url')).toBe(false);
  });

  it('never shows a URL’s password where the database is named in logs and messages', () => {
    expect(describeLocation('postgres://app:s3cret@db.internal:5432/keys?sslmode=require')).toBe('postgres://app:***@db.internal:5432/keys?sslmode=require');
    expect(describeLocation('postgresql://app@db.internal/keys')).toBe('postgresql://app@db.internal/keys');
    expect(describeLocation('/var/lib/dispersl/keys.db')).toBe('/var/lib/dispersl/keys.db');
  });
});

const cluster: PgCluster | undefined = await startCluster('PostgresStore');
const onPostgres = cluster ? describe : describe.skip;

onPostgres('PostgresStore on a real server', () => {
  const pg = cluster!;
  const opened: PostgresStore[] = [];
  const open = async (url: string) => {
    const store = (await openStore(url)) as PostgresStore;
    opened.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
  });
  afterAll(() => pg.stop());

  it('opens a database through openStore, migrated to the current schema version', async () => {
    const url = await pg.createDatabase();
    const store = await open(url);
    expect(store).toBeInstanceOf(PostgresStore);
    expect(await pg.sql(url, 'SELECT version FROM dispersl_schema')).toEqual([{ version: PG_SCHEMA_VERSION }]);
  });

  it('refuses a database at a newer schema version with one line, changing nothing', async () => {
    const url = await pg.createDatabase();
    await (await open(url)).close();
    await pg.sql(url, 'UPDATE dispersl_schema SET version = $1', [PG_SCHEMA_VERSION + 1]);
    const refusal = await PostgresStore.open(url).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(refusal?.message).toBe(`the database has schema version ${PG_SCHEMA_VERSION + 1}, newer than this dispersl-mcp supports (${PG_SCHEMA_VERSION}); upgrade dispersl-mcp`);
    expect(refusal?.message).not.toContain('\n');
    expect(await pg.sql(url, 'SELECT version FROM dispersl_schema')).toEqual([{ version: PG_SCHEMA_VERSION + 1 }]);
  });

  it('migrates a database of the version before sign-ins, keeping its audit trail and taking sign-ins after', async () => {
    const url = await pg.createDatabase();
    const beforeSignIns = MIGRATIONS.findIndex((sql) => sql.includes('audit_events_action_check'));
    expect(beforeSignIns).toBeGreaterThan(0);
    for (const sql of MIGRATIONS.slice(0, beforeSignIns)) await pg.sql(url, sql);
    await pg.sql(url, 'CREATE TABLE dispersl_schema (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
    await pg.sql(url, 'INSERT INTO dispersl_schema (id, version) VALUES (1, $1)', [beforeSignIns]);
    await pg.sql(url, `INSERT INTO organizations (id, name, plan, created_at) VALUES ('org_a', 'Acme', 'free', 1);
      INSERT INTO keys (id, org_id, hash, start, name, environment, permissions, allowed_ips, enabled, created_at, updated_at)
        VALUES ('key_a', 'org_a', 'hash_a', 'pk_live_aaaa', 'a', 'live', '["admin"]', '[]', true, 1, 1);
      INSERT INTO audit_events (org_id, key_id, actor_key_id, action, details, at, type) VALUES
        ('org_a', 'key_a', NULL, 'created', '{"name":"a"}', 10, 'key.created'),
        ('org_a', 'key_a', 'key_a', 'updated', '{"enabled":false}', 20, 'key.disabled')`);
    const before = await pg.sql(url, 'SELECT * FROM audit_events ORDER BY id');
    const store = await open(url);
    expect(await pg.sql(url, 'SELECT version FROM dispersl_schema')).toEqual([{ version: PG_SCHEMA_VERSION }]);
    expect(await pg.sql(url, 'SELECT * FROM audit_events ORDER BY id')).toEqual(before);
    expect((await store.listEvents('org_a', { limit: 10 })).map((e) => e.type)).toEqual(['key.disabled', 'key.created']);
    await store.appendAudit({ org_id: 'org_a', key_id: 'key_a', actor_key_id: 'key_a', action: 'signed_in', details: {}, at: 30 });
    expect(await store.listEvents('org_a', { type: 'session.created', limit: 10 })).toEqual([expect.objectContaining({ key_id: 'key_a', action: 'signed_in', details: {} })]);
    await expect(pg.sql(url, "INSERT INTO audit_events (org_id, key_id, action, details, at) VALUES ('org_a', 'key_a', 'deleted', '{}', 40)")).rejects.toThrow(/audit_events_action_check/);
  });

  it('counts one hourly window for gates whose machines disagree on the time by an hour', async () => {
    // The window is the database clock's hour: stay clear of its last seconds so one window holds the whole test.
    const left = HOUR_MS - (Date.now() % HOUR_MS);
    if (left < 20_000) await new Promise((resolve) => setTimeout(resolve, left + 250));
    const url = await pg.createDatabase();
    const [a, b] = [await open(url), await open(url)];
    const { secret } = await new KeyService(a).createOrganization({ name: 'Acme', plan: 'free' });
    const ahead = new Gate(a, () => Date.now() + HOUR_MS, { storeClock: true });
    const behind = new Gate(b, () => Date.now() - HOUR_MS, { storeClock: true });
    const outcomes = [];
    for (let i = 0; i < 60; i++) {
      for (const gate of [ahead, behind]) {
        outcomes.push(
          await gate.admit(credential(secret)).then(
            (admission) => (admission.release(), 'admitted'),
            (err: DisperslError) => err.type,
          ),
        );
      }
    }
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(100);
    expect(outcomes.slice(100)).toEqual(Array(20).fill('RATE_LIMIT_EXCEEDED'));
  });

  it('answers every call again once the server is back after a restart', async () => {
    const url = await pg.createDatabase();
    const store = await open(url);
    const service = new KeyService(store);
    const { organization } = await service.createOrganization({ name: 'Acme', plan: 'free' });
    await pg.restart();
    // The pool's connections were cut: the first calls may fail, none may hang, and the store recovers by itself.
    let answered = false;
    for (let attempt = 0; attempt < 20 && !answered; attempt++) {
      answered = await store.getOrganization(organization.id).then(
        (org) => org?.id === organization.id,
        () => false,
      );
    }
    expect(answered).toBe(true);
    expect(await store.hasOrganizations()).toBe(true);
  });
});
