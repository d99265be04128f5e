import type { Usage } from '../../core/model.js';
import type { KeyLookup, KeyRef } from '../../core/store.js';
import { LOOKUP_SELECT, type LookupRow, toLookup } from './keys.js';
import { literal } from './query.js';

/**
 * The SQL of one gate flush, as two messages of one transaction (each one round trip: several
 * statements in one simple-protocol message, values written as escaped literals):
 *
 * 1. BEGIN; lock the batch's key rows in id order (so two flushes never wait on each other in a
 *    cycle); read the database clock; read the keys with their organization and usage. The read is
 *    its own statement, after the lock: in READ COMMITTED it sees every charge committed before it.
 * 2. the usage decide returned, as one INSERT … ON CONFLICT DO UPDATE over every charged key; COMMIT.
 *
 * Between the two, decide (pure, in the core) judges the batch on what message 1 read.
 */

const NOW_MS = 'SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now';

function refFilter(refs: readonly KeyRef[], alias: string): string {
  const hashes = [...new Set(refs.flatMap((r) => ('hash' in r ? [r.hash] : [])))];
  const ids = [...new Set(refs.flatMap((r) => ('id' in r ? [r.id] : [])))];
  const any = (column: string, values: string[]) => `${alias}.${column} = ANY (ARRAY[${values.map(literal).join(', ')}]::text[])`;
  const terms = [...(hashes.length > 0 ? [any('hash', hashes)] : []), ...(ids.length > 0 ? [any('id', ids)] : [])];
  return terms.join(' OR ');
}

/** Message 1: its results are [BEGIN, lock, clock, lookup]. */
export function lockAndRead(refs: readonly KeyRef[]): string {
  const where = refFilter(refs, 'k');
  return [
    'BEGIN',
    `SELECT k.id FROM keys k WHERE ${where} ORDER BY k.id FOR NO KEY UPDATE`,
    NOW_MS,
    `${LOOKUP_SELECT} WHERE ${where}`,
  ].join(';\n');
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

/** Message 2: the batch's usage, written in key order, then COMMIT. */
export function writeAndCommit(usage: ReadonlyMap<string, Usage>, usedAt: number): string {
  if (usage.size === 0) return 'COMMIT';
  const values = [...usage]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([keyId, u]) => `(${[keyId, u.hour_window, u.hour_count, u.own_window, u.own_count, usedAt].map(literal).join(', ')})`);
  return `INSERT INTO usage (key_id, hour_window, hour_count, own_window, own_count, last_used_at) VALUES ${values.join(', ')}
    ON CONFLICT (key_id) DO UPDATE SET hour_window = excluded.hour_window, hour_count = excluded.hour_count,
      own_window = excluded.own_window, own_count = excluded.own_count, last_used_at = excluded.last_used_at;
  COMMIT`;
}

export function nowOf(row: { now: number } | undefined): number {
  if (row === undefined || !Number.isSafeInteger(row.now)) throw new Error('the database did not tell its time');
  return row.now;
}
