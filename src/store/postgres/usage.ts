import type { UsageBucket } from '../../core/model.js';
import type { UsageQuery } from '../../core/store.js';
import { type Queryable, changed, rows } from './query.js';

/**
 * Usage over time: the hourly buckets gate flushes add to (src/store/postgres/charge.ts), read per
 * key or summed over an organization. Counts are integer columns, so their sums are bigint: numbers.
 */

export function usageBuckets(q: Queryable, orgId: string, { keyId, from, to }: UsageQuery): Promise<UsageBucket[]> {
  if (keyId === undefined) {
    return rows<UsageBucket>(
      q,
      `SELECT hour, sum(admitted) AS admitted, sum(rate_limited) AS rate_limited, sum(denied) AS denied
       FROM usage_hours WHERE org_id = $1 AND hour >= $2 AND hour < $3 GROUP BY hour ORDER BY hour`,
      [orgId, from, to],
      'dispersl_usage_of_org',
    );
  }
  return rows<UsageBucket>(
    q,
    `SELECT hour, admitted, rate_limited, denied FROM usage_hours
     WHERE key_id = $1 AND org_id = $2 AND hour >= $3 AND hour < $4 ORDER BY hour`,
    [keyId, orgId, from, to],
    'dispersl_usage_of_key',
  );
}

export function topKeys(q: Queryable, orgId: string, { from, to, limit }: UsageQuery & { limit: number }): Promise<Array<UsageBucket & { key_id: string }>> {
  return rows<UsageBucket & { key_id: string }>(
    q,
    `SELECT key_id, min(hour) AS hour, sum(admitted) AS admitted, sum(rate_limited) AS rate_limited, sum(denied) AS denied
     FROM usage_hours WHERE org_id = $1 AND hour >= $2 AND hour < $3 GROUP BY key_id
     ORDER BY sum(admitted) + sum(rate_limited) + sum(denied) DESC, key_id LIMIT $4`,
    [orgId, from, to, limit],
    'dispersl_top_keys',
  );
}

export function pruneUsage(q: Queryable, before: number): Promise<number> {
  return changed(q, 'DELETE FROM usage_hours WHERE hour < $1', [before]);
}
