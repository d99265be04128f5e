import { afterEach } from 'vitest';
import { type Caller, type Credential, Gate, LOCAL_IP } from '../core/auth.js';
import { DisperslError } from '../core/errors.js';
import type { Organization, Plan } from '../core/model.js';
import { KeyService } from '../core/service.js';
import { SqliteStore } from '../store/sqlite.js';

/**
 * Shared by the unit tests (not shipped: tsconfig.build.json leaves src/testing out).
 * Every world runs on a real SQLite database and a clock the test moves by hand.
 */

/** Noon UTC on a fixed day: an hour window starts at 12:00:00.000, so tests can reason about resets. */
export const NOON = Date.UTC(2030, 0, 15, 12, 0, 0);

export class ManualClock {
  constructor(public now: number = NOON) {}
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface OrgSetup {
  plan?: Plan;
  name?: string;
  requests_per_hour?: number;
  max_concurrency?: number;
}

export interface Tenant {
  org: Organization;
  adminId: string;
  adminSecret: string;
}

export interface World {
  store: SqliteStore;
  clock: ManualClock;
  gate: Gate;
  service: KeyService;
  /** The first organization and its admin key. */
  tenant: Tenant;
  addTenant(setup?: OrgSetup): Promise<Tenant>;
  /** The caller a token authenticates as, charging nothing. */
  callerOf(token: string): Promise<Caller>;
  /** Row count of a table. */
  count(table: string): number;
}

export function credential(token: string | undefined, extra: Partial<Credential> = {}): Credential {
  return { token, ip: LOCAL_IP, ...extra };
}

export async function createWorld(setup: OrgSetup & { path?: string; clock?: ManualClock } = {}): Promise<World> {
  const store = new SqliteStore(setup.path ?? ':memory:');
  const clock = setup.clock ?? new ManualClock();
  const gate = new Gate(store, clock.read);
  const service = new KeyService(store, clock.read);
  const addTenant = async (org: OrgSetup = {}): Promise<Tenant> => {
    const created = await service.createOrganization({
      name: org.name ?? 'Acme',
      plan: org.plan ?? 'free',
      requests_per_hour: org.requests_per_hour,
      max_concurrency: org.max_concurrency,
    });
    return { org: created.organization, adminId: created.key.id, adminSecret: created.secret };
  };
  return {
    store,
    clock,
    gate,
    service,
    tenant: await addTenant(setup),
    addTenant,
    callerOf: (token) => gate.peek(credential(token)),
    count: (table) => (store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
  };
}

/** Every text and number in every table, as one string: where a leaked secret would show up. */
export function databaseText(store: SqliteStore): string {
  const tables = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
  return tables.map(({ name }) => JSON.stringify(store.db.prepare(`SELECT * FROM "${name}"`).all())).join('\n');
}

/** The DisperslError a call throws; fails the test when it returns or throws anything else. */
export function errorOf(fn: () => unknown): DisperslError {
  try {
    fn();
  } catch (err) {
    if (err instanceof DisperslError) return err;
    throw err;
  }
  throw new Error('expected a DisperslError, but the call succeeded');
}

export async function rejectionOf(promise: Promise<unknown>): Promise<DisperslError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DisperslError) return err;
    throw err;
  }
  throw new Error('expected a DisperslError, but the call succeeded');
}

/** createWorld for a test file: every world made during a test is closed after it. */
export function worldsClosedAfterEach(): (...args: Parameters<typeof createWorld>) => Promise<World> {
  const made: World[] = [];
  afterEach(async () => {
    for (const w of made.splice(0)) await w.store.close();
  });
  return async (...args) => {
    const w = await createWorld(...args);
    made.push(w);
    return w;
  };
}
