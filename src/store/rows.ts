import type { KeyRecord, Organization, Plan } from '../core/model.js';
import type { KeyLookup } from '../core/store.js';

/**
 * A key as both stores read it, named as their tables name the columns. Only the lists and the
 * enabled flag differ by database (JSON text and 0/1 in SQLite, jsonb and boolean in PostgreSQL).
 */
export interface KeyRowOf<List, Flag> {
  id: string;
  org_id: string;
  hash: string;
  start: string;
  name: string;
  environment: 'live' | 'test';
  permissions: List;
  allowed_ips: List;
  expires_at: number | null;
  enabled: Flag;
  revoked_at: number | null;
  rate_limit_max: number | null;
  rate_limit_window_ms: number | null;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  rotated_from: string | null;
  rotated_to: string | null;
  last_used_at: number | null;
}

/** A key with its organization and its usage counters (left-joined, so null before its first request). */
export interface LookupRowOf<List, Flag> extends KeyRowOf<List, Flag> {
  org_name: string;
  plan: Plan;
  requests_per_hour: number | null;
  max_concurrency: number | null;
  org_created_at: number;
  hour_window: number | null;
  hour_count: number | null;
  own_window: number | null;
  own_count: number | null;
}

/** The record of a key row, given its lists and flag as the store has read them. */
export function keyOf(row: KeyRowOf<unknown, unknown>, read: Pick<KeyRecord, 'permissions' | 'allowed_ips' | 'enabled'>): KeyRecord {
  return {
    id: row.id,
    org_id: row.org_id,
    hash: row.hash,
    start: row.start,
    name: row.name,
    environment: row.environment,
    permissions: read.permissions,
    allowed_ips: read.allowed_ips,
    expires_at: row.expires_at,
    enabled: read.enabled,
    revoked_at: row.revoked_at,
    rate_limit: row.rate_limit_max === null || row.rate_limit_window_ms === null ? null : { max: row.rate_limit_max, window_ms: row.rate_limit_window_ms },
    created_at: row.created_at,
    updated_at: row.updated_at,
    last_used_at: row.last_used_at,
    created_by: row.created_by,
    rotated_from: row.rotated_from,
    rotated_to: row.rotated_to,
  };
}

/** A lookup row's key (already read), organization and usage. */
export function lookupOf(row: LookupRowOf<unknown, unknown>, key: KeyRecord): KeyLookup {
  const org: Organization = {
    id: row.org_id,
    name: row.org_name,
    plan: row.plan,
    requests_per_hour: row.requests_per_hour,
    max_concurrency: row.max_concurrency,
    created_at: row.org_created_at,
  };
  return {
    key,
    org,
    usage: { hour_window: row.hour_window ?? 0, hour_count: row.hour_count ?? 0, own_window: row.own_window ?? 0, own_count: row.own_count ?? 0 },
  };
}
