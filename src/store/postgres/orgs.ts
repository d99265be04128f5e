import { type AuditEvent, type Organization, type StoredEvent, eventTypeOf } from '../../core/model.js';
import type { EventQuery } from '../../core/store.js';
import { type Queryable, first, rows } from './query.js';

/** Organizations and the audit trail. */

export async function insertOrganization(q: Queryable, org: Organization): Promise<void> {
  await q.query('INSERT INTO organizations (id, name, plan, requests_per_hour, max_concurrency, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
    org.id, org.name, org.plan, org.requests_per_hour, org.max_concurrency, org.created_at,
  ]);
}

export function getOrganization(q: Queryable, id: string): Promise<Organization | undefined> {
  return first<Organization>(q, 'SELECT id, name, plan, requests_per_hour, max_concurrency, created_at FROM organizations WHERE id = $1', [id], 'dispersl_get_org');
}

export async function hasOrganizations(q: Queryable): Promise<boolean> {
  return (await first<{ any: boolean }>(q, 'SELECT EXISTS (SELECT 1 FROM organizations) AS any'))?.any === true;
}

export async function appendAudit(q: Queryable, event: AuditEvent): Promise<void> {
  await q.query('INSERT INTO audit_events (org_id, key_id, actor_key_id, action, details, at, type) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    event.org_id, event.key_id, event.actor_key_id, event.action, JSON.stringify(event.details), event.at, eventTypeOf(event),
  ]);
}

/** Newest first; each filter is a condition of its own, so each combination walks its index (audit_by_org, _type, _key). */
export function listEvents(q: Queryable, orgId: string, { keyId, type, beforeId, limit }: EventQuery): Promise<StoredEvent[]> {
  const values: unknown[] = [orgId, beforeId ?? Number.MAX_SAFE_INTEGER, limit];
  const where = ['org_id = $1', 'id < $2'];
  if (keyId !== undefined) where.push(`key_id = $${values.push(keyId)}`);
  if (type !== undefined) where.push(`type = $${values.push(type)}`);
  return rows<StoredEvent>(
    q,
    `SELECT id, org_id, key_id, actor_key_id, action, details, at, type FROM audit_events
     WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $3`,
    values,
  );
}
