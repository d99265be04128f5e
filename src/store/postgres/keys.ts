import type { KeyRecord, KeyState } from '../../core/model.js';
import type { KeyLookup, ListOptions } from '../../core/store.js';
import { type KeyRowOf, type LookupRowOf, keyOf, lookupOf } from '../rows.js';
import { type Queryable, changed, first, rows } from './query.js';

/** Keys: lookups (the gate's), reads in an organization, and the guarded writes. */

export const KEY_COLUMNS = `k.id, k.org_id, k.hash, k.start, k.name, k.environment, k.permissions, k.allowed_ips, k.expires_at,
  k.enabled, k.revoked_at, k.rate_limit_max, k.rate_limit_window_ms, k.created_at, k.updated_at, k.created_by,
  k.rotated_from, k.rotated_to, u.last_used_at`;

export const LOOKUP_SELECT = `SELECT ${KEY_COLUMNS}, o.name AS org_name, o.plan, o.requests_per_hour, o.max_concurrency,
    o.created_at AS org_created_at, u.hour_window, u.hour_count, u.own_window, u.own_count
  FROM keys k JOIN organizations o ON o.id = k.org_id LEFT JOIN usage u ON u.key_id = k.id`;

export type KeyRow = KeyRowOf<string[], boolean>;
export type LookupRow = LookupRowOf<string[], boolean>;

/** jsonb arrays come back parsed, one new array per row, so no record shares them with another. */
export function toKey(row: KeyRow): KeyRecord {
  return keyOf(row, row);
}

export function toLookup(row: LookupRow): KeyLookup {
  return lookupOf(row, toKey(row));
}

export async function findByHash(q: Queryable, hash: string): Promise<KeyLookup | undefined> {
  const row = await first<LookupRow>(q, `${LOOKUP_SELECT} WHERE k.hash = $1`, [hash], 'dispersl_lookup_hash');
  return row && toLookup(row);
}

export async function findById(q: Queryable, id: string): Promise<KeyLookup | undefined> {
  const row = await first<LookupRow>(q, `${LOOKUP_SELECT} WHERE k.id = $1`, [id], 'dispersl_lookup_id');
  return row && toLookup(row);
}

export async function getKey(q: Queryable, orgId: string, id: string): Promise<KeyRecord | undefined> {
  const row = await first<KeyRow>(q, `SELECT ${KEY_COLUMNS} FROM keys k LEFT JOIN usage u ON u.key_id = k.id WHERE k.org_id = $1 AND k.id = $2`, [orgId, id], 'dispersl_get_key');
  return row && toKey(row);
}

export async function listKeys(q: Queryable, orgId: string, options: ListOptions): Promise<KeyRecord[]> {
  const { after, limit, includeRevoked, environment, name, unusedSince, state } = options;
  if (environment !== undefined || name !== undefined || unusedSince !== undefined || state !== undefined) return listFiltered(q, orgId, options);
  const page = await rows<KeyRow>(
    q,
    `SELECT ${KEY_COLUMNS} FROM keys k LEFT JOIN usage u ON u.key_id = k.id
     WHERE k.org_id = $1 AND ($2::boolean OR k.revoked_at IS NULL) AND (k.created_at, k.id) < ($3::bigint, $4::text)
     ORDER BY k.created_at DESC, k.id DESC LIMIT $5`,
    [orgId, includeRevoked, after?.created_at ?? Number.MAX_SAFE_INTEGER, after?.id ?? '', limit],
    'dispersl_list_keys',
  );
  return page.map(toKey);
}

/** Each state as a condition on keys k; @now stands for the parameter holding the time expiry is judged at. */
const STATE_CONDITIONS: Readonly<Record<KeyState, string>> = {
  active: 'k.revoked_at IS NULL AND k.enabled AND (k.expires_at IS NULL OR k.expires_at > @now)',
  disabled: 'k.revoked_at IS NULL AND NOT k.enabled',
  expired: 'k.revoked_at IS NULL AND k.expires_at IS NOT NULL AND k.expires_at <= @now',
  revoked: 'k.revoked_at IS NOT NULL',
};

/**
 * A filtered page, in the same order and keyset as an unfiltered one. Each filter given is one more
 * condition (none is a parameter tested for NULL), so the planner sees what it filters on: the
 * environment walks keys_by_org_environment; a name is a case-insensitive substring (no extension
 * needed), checked on the organization's keys in order; unused_since counts a never-used key; a
 * rarer state (disabled, expired, revoked) can walk its partial index. A state says itself whether
 * revoked keys belong: only `revoked` lists them, whatever includeRevoked says.
 */
async function listFiltered(q: Queryable, orgId: string, options: ListOptions): Promise<KeyRecord[]> {
  const { after, limit, includeRevoked, environment, name, unusedSince, state, now } = options;
  const values: unknown[] = [orgId, after?.created_at ?? Number.MAX_SAFE_INTEGER, after?.id ?? '', limit];
  const where = ['k.org_id = $1', '(k.created_at, k.id) < ($2::bigint, $3::text)'];
  if (state !== undefined) {
    where.push(
      STATE_CONDITIONS[state].replace('@now', () => {
        if (now === undefined) throw new Error(`listing ${state} keys needs the time expiry is judged at`);
        return `$${values.push(now)}::bigint`;
      }),
    );
  } else if (!includeRevoked) {
    where.push('k.revoked_at IS NULL');
  }
  if (environment !== undefined) where.push(`k.environment = $${values.push(environment)}`);
  if (name !== undefined) where.push(`strpos(lower(k.name), lower($${values.push(name)}::text)) > 0`);
  if (unusedSince !== undefined) where.push(`(u.last_used_at IS NULL OR u.last_used_at < $${values.push(unusedSince)}::bigint)`);
  const page = await rows<KeyRow>(
    q,
    `SELECT ${KEY_COLUMNS} FROM keys k LEFT JOIN usage u ON u.key_id = k.id
     WHERE ${where.join(' AND ')}
     ORDER BY k.created_at DESC, k.id DESC LIMIT $4`,
    values,
  );
  return page.map(toKey);
}

export async function insertKey(q: Queryable, key: KeyRecord): Promise<void> {
  await q.query(
    `INSERT INTO keys (id, org_id, hash, start, name, environment, permissions, allowed_ips, expires_at, enabled,
       revoked_at, rate_limit_max, rate_limit_window_ms, created_at, updated_at, created_by, rotated_from, rotated_to)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
    [
      key.id, key.org_id, key.hash, key.start, key.name, key.environment, JSON.stringify(key.permissions), JSON.stringify(key.allowed_ips),
      key.expires_at, key.enabled, key.revoked_at, key.rate_limit?.max ?? null, key.rate_limit?.window_ms ?? null, key.created_at,
      key.updated_at, key.created_by, key.rotated_from, key.rotated_to,
    ],
  );
}

export async function revokeKey(q: Queryable, id: string, at: number): Promise<boolean> {
  return (await changed(q, 'UPDATE keys SET revoked_at = $2, updated_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, at])) === 1;
}

export async function rotateKey(q: Queryable, id: string, change: { rotated_to: string; expires_at: number | null; revoked_at: number | null; at: number }): Promise<boolean> {
  const n = await changed(
    q,
    'UPDATE keys SET rotated_to = $2, expires_at = $3, revoked_at = $4, updated_at = $5 WHERE id = $1 AND revoked_at IS NULL AND rotated_to IS NULL',
    [id, change.rotated_to, change.expires_at, change.revoked_at, change.at],
  );
  return n === 1;
}

export async function updateKey(q: Queryable, id: string, change: { name?: string; enabled?: boolean; at: number }): Promise<boolean> {
  const n = await changed(
    q,
    'UPDATE keys SET name = coalesce($2, name), enabled = coalesce($3, enabled), updated_at = $4 WHERE id = $1 AND revoked_at IS NULL',
    [id, change.name ?? null, change.enabled ?? null, change.at],
  );
  return n === 1;
}
