import pg from 'pg';
import { causeOf } from '../core/errors.js';
import type { PoolClient, QueryResult } from 'pg';
import type { BatchContext, BatchDecide, KeyRef, KeyStore, StoreOps } from '../core/store.js';
import { type ClockRow, batchWrites, heldOf, lockAndRead, matchRefs, nowOf, writeAndCommit } from './postgres/charge.js';
import type { LookupRow } from './postgres/keys.js';
import { Turns } from './turns.js';
import { opsOn } from './postgres/ops.js';
import { LOCK_CLASS, WRITE_LOCK, migrate } from './postgres/schema.js';

export { PG_SCHEMA_VERSION, PgSchemaTooNewError } from './postgres/schema.js';

export interface PostgresOptions {
  /** Connections this process keeps at most (default 10; also `?pool_max=N` on the URL). */
  poolMax?: number;
}

const DEFAULT_POOL_MAX = 10;
const NOTHING_HELD: ReadonlyMap<string, number> = new Map();

/** bigint columns hold epoch milliseconds: safe integers, read as numbers (pg's default is a string). */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A dropped connection reports on the client too: the query that was running gets the error, nothing else must crash. */
const ignore = () => undefined;

/** The connection string without our own parameters, and the pool size they asked for. */
function poolConfig(location: string, options: PostgresOptions): pg.PoolConfig {
  const url = new URL(location);
  const asked = url.searchParams.get('pool_max');
  url.searchParams.delete('pool_max');
  const max = asked !== null && /^\d{1,4}$/.test(asked) && Number(asked) > 0 ? Number(asked) : (options.poolMax ?? DEFAULT_POOL_MAX);
  return {
    connectionString: url.href,
    max,
    types,
    // A server that does not answer fails the request (INTERNAL_ERROR) instead of holding it forever.
    connectionTimeoutMillis: 5_000,
    // No request waits on a lock for ever, and a process that hangs inside a transaction (holding the
    // write lock every process's admin writes need) is cut off by the server.
    statement_timeout: 15_000,
    idle_in_transaction_session_timeout: 30_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'dispersl-mcp',
  };
}

/**
 * The store on one PostgreSQL database, shared by every process and machine that opens it.
 *
 * Reads and single writes run on the pool, each one round trip. A transaction holds one pooled
 * connection and the database-wide write lock (an advisory lock), so transactions from every process
 * run one after the other, as they do on SQLite; within this process, the store's other calls wait
 * for an open transaction as the contract says. A gate flush needs no database-wide lock: it locks
 * only its keys' rows (src/store/postgres/charge.ts), so flushes on different keys run side by side.
 */
/** The StoreOps methods, each installed in the constructor to take its turn (see Turns.install). */
export interface PostgresStore extends StoreOps {}

export class PostgresStore implements KeyStore {
  private readonly pool: pg.Pool;
  private readonly turns = new Turns();

  private constructor(pool: pg.Pool) {
    this.pool = pool;
    this.turns.install(this, opsOn(pool));
  }

  /** Connects and migrates (once, whichever process gets there first); refuses a database newer than this code. */
  static async open(location: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool(poolConfig(location, options));
    // An idle connection the server dropped (a restart, a failover) is discarded by the pool; the next call reconnects.
    pool.on('error', ignore);
    try {
      await withClient(pool, migrate);
    } catch (err) {
      await pool.end().catch(ignore);
      throw err;
    }
    return new PostgresStore(pool);
  }

  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T> {
    return this.turns.exclusive(() =>
      withClient(this.pool, (client) =>
        settle(
          client,
          async () => {
            // One round trip: the transaction starts holding the write lock, so what it reads stays true until it commits.
            await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${WRITE_LOCK})`);
            return fn(opsOn(client));
          },
          () => client.query('COMMIT'),
        ),
      ),
    );
  }

  chargeBatch<T>(
    refs: readonly KeyRef[],
    decide: BatchDecide<T>,
    at?: number,
    context?: BatchContext,
  ): Promise<T[]> {
    if (refs.length === 0) return this.turns.whenFree(() => this.chargeNoKeys(decide, at ?? Date.now(), context));
    return this.turns.whenFree(() =>
      withClient(this.pool, async (client) => {
        const { results } = await settle(
          client,
          async () => {
            const read = (await client.query(lockAndRead(refs, at, context))) as unknown as QueryResult[];
            const clock = (read[2]?.rows ?? []) as ClockRow[];
            const now = at ?? nowOf(clock[0]);
            const decision = decide(matchRefs(refs, (read[3]?.rows ?? []) as LookupRow[]), now, heldOf(clock));
            return { ...decision, now };
          },
          (decision) => client.query(writeAndCommit(decision, decision.now, context)),
        );
        return results;
      }),
    );
  }

  /**
   * A batch that names no key (a process freeing its slots, say): nothing to lock or read, and what
   * decide returns, if anything, is written in one message, which the server runs as one transaction.
   */
  private async chargeNoKeys<T>(
    decide: BatchDecide<T>,
    now: number,
    context: BatchContext | undefined,
  ): Promise<T[]> {
    const decision = decide([], now, NOTHING_HELD);
    const writes = batchWrites(decision, now, context);
    if (writes.length > 0) await this.pool.query(writes.join(';\n'));
    return decision.results;
  }

  async writeProblem(): Promise<{ error: string; code?: string } | undefined> {
    try {
      // A committed write that changes nothing visible: a read-only standby, a full disk or a lost server fail it.
      await this.turns.whenFree(() =>
        this.pool.query("INSERT INTO server_secrets (name, secret, created_at) VALUES ('health', '', 0) ON CONFLICT (name) DO UPDATE SET created_at = 0"),
      );
      return undefined;
    } catch (err) {
      return causeOf(err);
    }
  }

  async close(): Promise<void> {
    await this.turns.whenFree(async () => undefined);
    if (!this.pool.ended) await this.pool.end();
  }
}

/** Errors after which the connection is unusable (its rollback failed too): the pool must not hand it out again. */
const brokenBy = new WeakMap<object, Error>();

/** A pooled client for fn; a client whose connection failed is destroyed rather than handed out again. */
async function withClient<T>(pool: pg.Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    return await fn(client);
  } catch (err) {
    broken = typeof err === 'object' && err !== null ? brokenBy.get(err) : undefined;
    throw err;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}

/**
 * Runs body in a transaction it opens, then commit with its value; on any failure rolls back and
 * rethrows the failure unchanged (a failure that happens before BEGIN leaves nothing to roll back).
 */
async function settle<V>(client: PoolClient, body: () => Promise<V>, commit: (value: V) => Promise<unknown>): Promise<V> {
  try {
    const value = await body();
    await commit(value);
    return value;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollback) {
      if (typeof err === 'object' && err !== null) brokenBy.set(err, rollback instanceof Error ? rollback : new Error(String(rollback)));
    }
    throw err;
  }
}
