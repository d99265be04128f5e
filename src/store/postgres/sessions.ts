import type { SessionRecord } from '../../core/store.js';
import { type Queryable, changed, first } from './query.js';

/** Dashboard sessions, kept by the hash of their token: every process signs in, touches and ends the same ones. */

export async function insertSession(q: Queryable, session: SessionRecord): Promise<void> {
  // One statement for both: expired sessions go as a new one comes.
  await q.query(
    'WITH gone AS (DELETE FROM sessions WHERE expires_at <= $4) INSERT INTO sessions (id, org_id, key_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
    [session.id, session.org_id, session.key_id, session.created_at, session.expires_at],
  );
}

export function touchSession(q: Queryable, id: string, now: number, until: number, ifBefore = Number.MAX_SAFE_INTEGER): Promise<SessionRecord | undefined> {
  // Every dashboard request runs it: one prepared statement that checks, and extends only when due
  // (an UPDATE that matches no row writes nothing).
  return first<SessionRecord>(
    q,
    `WITH found AS (SELECT id, org_id, key_id, created_at, expires_at FROM sessions WHERE id = $1 AND expires_at > $2),
      moved AS (UPDATE sessions SET expires_at = $3 WHERE id = $1 AND expires_at > $2 AND expires_at < $4 RETURNING expires_at)
    SELECT found.id, found.org_id, found.key_id, found.created_at, COALESCE(moved.expires_at, found.expires_at) AS expires_at FROM found LEFT JOIN moved ON true`,
    [id, now, until, ifBefore],
    'dispersl_touch_session',
  );
}

export async function deleteSession(q: Queryable, id: string): Promise<boolean> {
  return (await changed(q, 'DELETE FROM sessions WHERE id = $1', [id])) === 1;
}
