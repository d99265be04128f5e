import { HOUR_MS } from '../../core/limits.js';
import type { BatchContext, BatchDecision, KeyLookup, KeyRef } from '../../core/store.js';
import { LOOKUP_SELECT, type LookupRow, toLookup } from './keys.js';
import { literal } from './query.js';

/**
 * The SQL of one gate flush, as two messages of one transaction (each one round trip: several
 * statements in one simple-protocol message, values written as escaped literals):
 *
 * 1. BEGIN; lock the batch's key rows in id order (so two flushes never wait on each other in a
 *    cycle); read the flush's time (the database clock, or the caller's) and, with a context, the
 *    concurrency slots held elsewhere per key; read the keys with their organization and usage. The
 *    reads are their own statements, after the lock: in READ COMMITTED they see every charge
 *    committed before it.
 * 2. what decide returned: the usage, as one INSERT … ON CONFLICT DO UPDATE over every charged key;
 *    the hour's usage buckets; the new leases; the owner's slots and, with slots or leases, its time seen; COMMIT.
 *
 * Between the two, decide (pure, in the core) judges the batch on what message 1 read.
 */

const CLOCK_MS = 'floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

function refFilter(refs: readonly KeyRef[], alias: string): string {
  const hashes = [...new Set(refs.flatMap((r) => ('hash' in r ? [r.hash] : [])))];
  const ids = [...new Set(refs.flatMap((r) => ('id' in r ? [r.id] : [])))];
  const any = (column: string, values: string[]) => `${alias}.${column} = ANY (ARRAY[${values.map(literal).join(', ')}]::text[])`;
  const terms = [...(hashes.length > 0 ? [any('hash', hashes)] : []), ...(ids.length > 0 ? [any('id', ids)] : [])];
  return terms.join(' OR ');
}

/**
 * The flush's time, one row; with a context, one row per key of the batch, each with the slots held
 * elsewhere at that time: the in-flight requests of every other live owner and the live leases (of
 * any owner that is live, or of this one), gathered for the whole batch at once rather than key by
 * key. The time is computed once (a volatile CTE is materialized).
 */
function clockAndHeld(where: string, at: number | undefined, context: BatchContext | undefined): string {
  const now = at === undefined ? CLOCK_MS : `${literal(at)}::bigint`;
  if (context === undefined) return `SELECT ${now} AS now`;
  const owner = literal(context.owner);
  const live = literal(context.liveAfter);
  return `WITH clock AS (SELECT ${now} AS now), batch AS (SELECT k.id FROM keys k WHERE ${where}),
  held AS (
    SELECT s.key_id, s.n FROM slots s JOIN owners o ON o.id = s.owner
      WHERE s.key_id IN (SELECT id FROM batch) AND s.owner <> ${owner} AND o.seen_at > ${live}
    UNION ALL
    SELECT l.key_id, 1 FROM clock c, leases l LEFT JOIN owners o ON o.id = l.owner
      WHERE l.key_id IN (SELECT id FROM batch) AND l.released_at IS NULL AND l.expires_at > c.now AND (l.owner = ${owner} OR o.seen_at > ${live}))
  SELECT c.now, b.id AS key_id, coalesce(h.n, 0) AS held
  FROM clock c LEFT JOIN batch b ON true LEFT JOIN (SELECT key_id, sum(n) AS n FROM held GROUP BY key_id) h ON h.key_id = b.id`;
}

/** Message 1: its results are [BEGIN, lock, clock (and held), lookup]. */
export function lockAndRead(refs: readonly KeyRef[], at?: number, context?: BatchContext): string {
  const where = refFilter(refs, 'k');
  return [
    'BEGIN',
    `SELECT k.id FROM keys k WHERE ${where} ORDER BY k.id FOR NO KEY UPDATE`,
    clockAndHeld(`(${where})`, at, context),
    `${LOOKUP_SELECT} WHERE ${where}`,
  ].join(';\n');
}

export interface ClockRow {
  now: number;
  key_id?: string | null;
  held?: number | null;
}

/** The slots held elsewhere per key found, from the clock statement's rows (none without a context). */
export function heldOf(rows: readonly ClockRow[]): Map<string, number> {
  const held = new Map<string, number>();
  for (const row of rows) if (row.key_id != null && row.held != null) held.set(row.key_id, row.held);
  return held;
}

/** Each ref's lookup: one object per key, whichever way a ref names it. */
export function matchRefs(refs: readonly KeyRef[], rows: readonly LookupRow[]): Array<KeyLookup | undefined> {
  const byHash = new Map<string, KeyLookup>();
  const byId = new Map<string, KeyLookup>();
  for (const row of rows) {
    const lookup = toLookup(row);
    byHash.set(row.hash, lookup);
    byId.set(row.id, lookup);
  }
  return refs.map((ref) => ('hash' in ref ? byHash.get(ref.hash) : byId.get(ref.id)));
}

const byKey = <V>([a]: [string, V], [b]: [string, V]) => (a < b ? -1 : a > b ? 1 : 0);
const row = (values: Array<string | number | null>) => `(${values.map(literal).join(', ')})`;

/**
 * The statements that persist a decision at `now`, each over the batch's keys in key order (so two
 * flushes take row locks in one order): none when it changes nothing.
 */
export function batchWrites(decision: BatchDecision<unknown>, now: number, context: BatchContext | undefined): string[] {
  const writes: string[] = [];
  if (decision.usage.size > 0) {
    const values = [...decision.usage].sort(byKey).map(([keyId, u]) => row([keyId, u.hour_window, u.hour_count, u.own_window, u.own_count, now]));
    writes.push(`INSERT INTO usage (key_id, hour_window, hour_count, own_window, own_count, last_used_at) VALUES ${values.join(', ')}
    ON CONFLICT (key_id) DO UPDATE SET hour_window = excluded.hour_window, hour_count = excluded.hour_count,
      own_window = excluded.own_window, own_count = excluded.own_count, last_used_at = excluded.last_used_at`);
  }
  if (decision.outcomes !== undefined && decision.outcomes.size > 0) {
    const hour = now - (now % HOUR_MS);
    const values = [...decision.outcomes].sort(byKey).map(([keyId, c]) => row([keyId, hour, c.org_id, c.admitted, c.rate_limited, c.denied]));
    writes.push(`INSERT INTO usage_hours (key_id, hour, org_id, admitted, rate_limited, denied) VALUES ${values.join(', ')}
    ON CONFLICT (key_id, hour) DO UPDATE SET admitted = usage_hours.admitted + excluded.admitted,
      rate_limited = usage_hours.rate_limited + excluded.rate_limited, denied = usage_hours.denied + excluded.denied`);
  }
  if (decision.leases !== undefined && decision.leases.length > 0) {
    const values = decision.leases.map((l) => row([l.id, l.org_id, l.key_id, l.owner, l.expires_at, l.created_at, l.released_at]));
    writes.push(`INSERT INTO leases (id, org_id, key_id, owner, expires_at, created_at, released_at) VALUES ${values.join(', ')}`);
  }
  if (context !== undefined && (decision.slots?.size || decision.leases?.length)) {
    const owner = literal(context.owner);
    writes.push(`INSERT INTO owners (id, seen_at) VALUES (${owner}, ${literal(now)})
    ON CONFLICT (id) DO UPDATE SET seen_at = greatest(owners.seen_at, excluded.seen_at)`);
    const slots = [...(decision.slots ?? [])].sort(byKey);
    const held = slots.filter(([, n]) => n > 0);
    const freed = slots.filter(([, n]) => n <= 0);
    if (held.length > 0) {
      writes.push(`INSERT INTO slots (key_id, owner, n) VALUES ${held.map(([keyId, n]) => row([keyId, context.owner, n])).join(', ')}
    ON CONFLICT (key_id, owner) DO UPDATE SET n = excluded.n`);
    }
    if (freed.length > 0) {
      writes.push(`DELETE FROM slots WHERE owner = ${owner} AND key_id = ANY (ARRAY[${freed.map(([keyId]) => literal(keyId)).join(', ')}]::text[])`);
    }
  }
  return writes;
}

/** Message 2: the decision's writes, then COMMIT. */
export function writeAndCommit(decision: BatchDecision<unknown>, now: number, context: BatchContext | undefined): string {
  return [...batchWrites(decision, now, context), 'COMMIT'].join(';\n');
}

export function nowOf(row: { now: number } | undefined): number {
  if (row === undefined || !Number.isSafeInteger(row.now)) throw new Error('the database did not tell its time');
  return row.now;
}
