import type { AuditEvent, KeyRecord, Organization, Usage } from './model.js';

export interface KeyLookup {
  key: KeyRecord;
  org: Organization;
  usage: Usage;
}

/**
 * A secret that signs access tokens (HS256). Only one is current (retired_at null); a retired one
 * still verifies the tokens it signed until they expire, which is what makes rotation seamless.
 */
export interface SigningKeyRecord {
  kid: string;
  alg: 'HS256';
  /** The secret: base64url, or sealed with the operator's key (src/oauth/secret-box.ts). */
  secret: string;
  created_at: number;
  retired_at: number | null;
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
  /** The key with this id, whatever its organization: an access token names its key by id. */
  findById(id: string): KeyLookup | undefined;
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

  /** Every signing key kept (the current one and retired ones), newest first. */
  listSigningKeys(): SigningKeyRecord[];
  insertSigningKey(key: SigningKeyRecord): void;
  /** Sets retired_at where the signing key is not retired yet. */
  retireSigningKey(kid: string, at: number): boolean;
  /** Replaces a signing key's stored secret where it still is `from` (sealing a plain secret at rest). */
  replaceSigningKeySecret(kid: string, from: string, to: string): boolean;
  /** Deletes signing keys retired before `before` (no token they signed can still be valid); answers how many. */
  pruneSigningKeys(before: number): number;

  close(): void;
}
