import type { AuditEvent, KeyRecord, Organization, Usage } from './model.js';

export interface KeyLookup {
  key: KeyRecord;
  org: Organization;
  usage: Usage;
}

export interface ListOptions {
  /** Keyset pagination: return keys strictly older than this (created_at desc, id desc). */
  after?: { created_at: number; id: string };
  limit: number;
  includeRevoked: boolean;
}

/**
 * Persistence as the core needs it. Mutations are guarded single statements that answer whether
 * they applied, so a lost race shows up as `false` instead of a silent overwrite.
 */
export interface KeyStore {
  /** Runs fn in one write transaction (taken at once, so readers in it see what they will change). */
  transaction<T>(fn: () => T): T;

  insertOrganization(org: Organization): void;
  getOrganization(id: string): Organization | undefined;

  findByHash(hash: string): KeyLookup | undefined;
  getKey(orgId: string, id: string): KeyRecord | undefined;
  listKeys(orgId: string, options: ListOptions): KeyRecord[];

  insertKey(key: KeyRecord): void;
  /** Sets revoked_at where the key is not revoked yet. */
  revokeKey(id: string, at: number): boolean;
  /** Links a key to its successor and ends it (expires_at or revoked_at), where it is live and not rotated yet. */
  rotateKey(id: string, change: { rotated_to: string; expires_at: number | null; revoked_at: number | null; at: number }): boolean;
  /** Sets name and/or enabled where the key is not revoked. */
  updateKey(id: string, change: { name?: string; enabled?: boolean; at: number }): boolean;

  saveUsage(keyId: string, usage: Usage, usedAt: number): void;
  appendAudit(event: AuditEvent): void;

  close(): void;
}
