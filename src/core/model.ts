import type { Environment } from './tokens.js';

export type { Environment };
export type Plan = 'free' | 'pro' | 'enterprise';
export const PLANS: readonly Plan[] = ['free', 'pro', 'enterprise'];

export interface Organization {
  id: string;
  name: string;
  plan: Plan;
  /** Enterprise only: custom limits; null means the enterprise default. */
  requests_per_hour: number | null;
  max_concurrency: number | null;
  created_at: number;
}

export interface RateLimit {
  max: number;
  window_ms: number;
}

/** A key as stored: times are epoch milliseconds; the token itself is never kept, only its hash. */
export interface KeyRecord {
  id: string;
  org_id: string;
  hash: string;
  start: string;
  name: string;
  environment: Environment;
  permissions: string[];
  allowed_ips: string[];
  expires_at: number | null;
  enabled: boolean;
  revoked_at: number | null;
  rate_limit: RateLimit | null;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
  created_by: string | null;
  rotated_from: string | null;
  rotated_to: string | null;
}

/**
 * Where a key stands, as a list filters it: active (not revoked, enabled, not expired), disabled (not
 * revoked, disabled), expired (not revoked, expires_at at or before now) or revoked. A disabled key
 * that has also expired is both disabled and expired.
 */
export const KEY_STATES = ['active', 'disabled', 'expired', 'revoked'] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** Request counters of one key, as persisted: a fixed hourly window and the key's own window. */
export interface Usage {
  hour_window: number;
  hour_count: number;
  own_window: number;
  own_count: number;
}

export const EMPTY_USAGE: Usage = { hour_window: 0, hour_count: 0, own_window: 0, own_count: 0 };

/** What happened: to a key (created … updated), or with one (signed_in: it signed in to the dashboard). */
export type AuditAction = 'created' | 'revoked' | 'rotated' | 'updated' | 'signed_in';

export interface AuditEvent {
  org_id: string;
  key_id: string;
  actor_key_id: string | null;
  action: AuditAction;
  details: Record<string, unknown>;
  at: number;
}

export const PERMISSIONS = { read: 'keys:read', write: 'keys:write', admin: 'admin' } as const;
export type Permission = (typeof PERMISSIONS)[keyof typeof PERMISSIONS];

export function hasPermission(granted: readonly string[], required: string): boolean {
  if (granted.includes(PERMISSIONS.admin)) return true;
  return granted.includes(required);
}

/** Whether a key may run the operations that change keys (src/core/operations: every `write` one needs keys:write). */
export function canWrite(permissions: readonly string[]): boolean {
  return hasPermission(permissions, PERMISSIONS.write);
}

/** What of `requested` a caller lacks: it may grant, or act on a key holding, only what it holds; admin may grant any. */
export function missingGrants(granted: readonly string[], requested: readonly string[]): string[] {
  if (granted.includes(PERMISSIONS.admin)) return [];
  return requested.filter((p) => !granted.includes(p));
}

/** The verify permission: lets a service's key check the keys of its own organization's users (admin implies it). */
export const VERIFY_PERMISSION = 'keys:verify';

/** How one request ended for a key already identified, as the hourly usage buckets count it. */
export interface OutcomeCounts {
  org_id: string;
  admitted: number;
  rate_limited: number;
  denied: number;
}

/** One hour of a key's (or an organization's) requests: `hour` is the epoch ms the hour starts at. */
export interface UsageBucket {
  hour: number;
  admitted: number;
  rate_limited: number;
  denied: number;
}

export const EVENT_TYPES = ['key.created', 'key.revoked', 'key.rotated', 'key.updated', 'key.disabled', 'key.enabled', 'session.created'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The public type of an audit event: an update that only switches `enabled` reads as what it did; a sign-in made a session. */
export function eventTypeOf(event: Pick<AuditEvent, 'action' | 'details'>): EventType {
  if (event.action === 'signed_in') return 'session.created';
  if (event.action === 'updated' && typeof event.details.enabled === 'boolean') return event.details.enabled ? 'key.enabled' : 'key.disabled';
  return `key.${event.action}`;
}

/** An audit event as stored, with its place in the trail (ids grow with time). */
export interface StoredEvent extends AuditEvent {
  id: number;
  type: EventType;
}

/**
 * A concurrency slot of a key held past one request: taken by verify with `hold`, freed by a release
 * or at expires_at, and by its owner process dying (an owner not seen for OWNER_TTL_MS holds nothing).
 */
export interface LeaseRecord {
  id: string;
  org_id: string;
  key_id: string;
  owner: string;
  expires_at: number;
  created_at: number;
  released_at: number | null;
}
