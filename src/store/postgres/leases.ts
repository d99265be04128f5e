import type { LeaseRecord } from '../../core/model.js';
import { type Queryable, first } from './query.js';

/**
 * Concurrency shared by every process: leases (a slot held past one request) and the owners that
 * hold slots. Gate flushes write both (src/store/postgres/charge.ts); these are the calls outside one.
 */

const DAY_MS = 86_400_000;

export function releaseLease(q: Queryable, orgId: string, id: string, at: number): Promise<LeaseRecord | undefined> {
  // One statement: the lease as this release left it, or as it already stood (a second release changes nothing).
  return first<LeaseRecord>(
    q,
    `WITH released AS (
       UPDATE leases SET released_at = $3 WHERE id = $2 AND org_id = $1 AND released_at IS NULL
       RETURNING id, org_id, key_id, owner, expires_at, created_at, released_at
     )
     SELECT * FROM released
     UNION ALL
     SELECT id, org_id, key_id, owner, expires_at, created_at, released_at FROM leases
     WHERE id = $2 AND org_id = $1 AND NOT EXISTS (SELECT 1 FROM released)`,
    [orgId, id, at],
    'dispersl_release_lease',
  );
}

export async function heartbeat(q: Queryable, owner: string, at: number): Promise<void> {
  // One statement, so one commit: the owner is seen, and whatever died or ended a day ago goes (a day
  // keeps released leases answerable: a second release is a no-op, not a 404). Every part reads the
  // same snapshot, so the slots to forget are those of the owners this statement deletes.
  await q.query(
    `WITH seen AS (
       INSERT INTO owners (id, seen_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET seen_at = greatest(owners.seen_at, excluded.seen_at)
     ), dead AS (
       DELETE FROM owners WHERE seen_at <= $3 AND id <> $1 RETURNING id
     ), orphans AS (
       DELETE FROM slots WHERE owner IN (SELECT id FROM dead)
     )
     DELETE FROM leases WHERE expires_at <= $3`,
    [owner, at, at - DAY_MS],
  );
}
