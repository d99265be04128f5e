import type { AuditEvent, EventType, KeyRecord, KeyState, LeaseRecord, Organization, OutcomeCounts, StoredEvent, Usage, UsageBucket } from './model.js';

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
  environment?: 'live' | 'test' | undefined;
  /** A substring of the name, matched case-insensitively. */
  name?: string | undefined;
  /** Keys never used, or last used before this (epoch ms). */
  unusedSince?: number | undefined;
  /** Only keys in this state (see KeyState); revoked ones are listed for `revoked` whatever includeRevoked says. */
  state?: KeyState | undefined;
  /** The time `active` and `expired` are judged at (epoch ms), needed with those states: a key expires by time alone, with no write. */
  now?: number | undefined;
}

/**
 * A secret waiting to be shown once (secret delivery by reveal): sealed under a key derived from its
 * one-time code, which the database never holds; `id` is a hash of the code.
 */
export interface RevealRecord {
  id: string;
  sealed: string;
  expires_at: number;
  created_at: number;
}

/** A dashboard session: `id` is a hash of the session token the browser holds, never the token. */
export interface SessionRecord {
  id: string;
  org_id: string;
  /** The key that signed in. */
  key_id: string;
  created_at: number;
  /** Idle expiry: pushed forward by each request (touchSession). */
  expires_at: number;
}

export interface UsageQuery {
  /** One key's buckets; all of the organization's keys summed when absent. */
  keyId?: string | undefined;
  /** Hours starting at or after `from` and before `to` (epoch ms). */
  from: number;
  to: number;
}

export interface EventQuery {
  keyId?: string | undefined;
  type?: EventType | undefined;
  /** Keyset pagination: events with a smaller id than this. */
  beforeId?: number | undefined;
  limit: number;
}

/**
 * Who is charging: each process names itself (`owner`) so that the concurrency slots it holds count
 * in every other process, until it has not been seen for OWNER_TTL_MS (it died).
 */
export interface BatchContext {
  owner: string;
  /** Owners seen before this hold nothing any more. */
  liveAfter: number;
}

/** How long a process that stopped charging and heartbeating keeps its slots: a dead process frees them within this. */
export const OWNER_TTL_MS = 25_000;

/** How a request names its key: by the hash of its token, or (an access token's grant) by id. */
export type KeyRef = { hash: string } | { id: string };

/**
 * What one gate flush decided, given the batch's keys: a result per request, and the usage each
 * key charged in the batch ends with (written by the store in the same transaction).
 */
export interface BatchDecision<T> {
  results: T[];
  usage: ReadonlyMap<string, Usage>;
  /** Per key, outcomes to add to the usage bucket of the hour `at` falls in. */
  outcomes?: ReadonlyMap<string, OutcomeCounts>;
  /** Leases taken in this batch, to insert. */
  leases?: readonly LeaseRecord[];
  /** The owner's in-flight requests per key, where they changed since its last batch (0: none). */
  slots?: ReadonlyMap<string, number>;
}

/** How a gate flush judges its batch: given the keys found, the flush's time and the slots held elsewhere (see chargeBatch). */
export type BatchDecide<T> = (found: ReadonlyArray<KeyLookup | undefined>, now: number, held: ReadonlyMap<string, number>) => BatchDecision<T>;

/**
 * The reads and guarded writes the core needs, each one statement (or one round trip). Mutations
 * answer whether they applied, so a lost race shows up as `false` instead of a silent overwrite.
 */
export interface StoreOps {
  insertOrganization(org: Organization): Promise<void>;
  getOrganization(id: string): Promise<Organization | undefined>;
  /** Whether any organization exists: `serve` bootstraps one on an empty database. */
  hasOrganizations(): Promise<boolean>;

  findByHash(hash: string): Promise<KeyLookup | undefined>;
  /** The key with this id, whatever its organization: an access token names its key by id. */
  findById(id: string): Promise<KeyLookup | undefined>;
  getKey(orgId: string, id: string): Promise<KeyRecord | undefined>;
  listKeys(orgId: string, options: ListOptions): Promise<KeyRecord[]>;

  insertKey(key: KeyRecord): Promise<void>;
  /** Sets revoked_at where the key is not revoked yet. */
  revokeKey(id: string, at: number): Promise<boolean>;
  /** Links a key to its successor and ends it (expires_at or revoked_at), where it is live and not rotated yet. */
  rotateKey(id: string, change: { rotated_to: string; expires_at: number | null; revoked_at: number | null; at: number }): Promise<boolean>;
  /** Sets name and/or enabled where the key is not revoked. */
  updateKey(id: string, change: { name?: string; enabled?: boolean; at: number }): Promise<boolean>;

  appendAudit(event: AuditEvent): Promise<void>;
  /** An organization's audit trail, newest first (id descending). */
  listEvents(orgId: string, query: EventQuery): Promise<StoredEvent[]>;

  /** Hourly buckets with any count, oldest first. */
  usageBuckets(orgId: string, query: UsageQuery): Promise<UsageBucket[]>;
  /** The keys with the most requests in a span, most first. */
  topKeys(orgId: string, query: UsageQuery & { limit: number }): Promise<Array<UsageBucket & { key_id: string }>>;
  /** Deletes usage buckets of hours before `before`; answers how many. */
  pruneUsage(before: number): Promise<number>;

  /** Ends a lease of the organization (released_at), where it is not released yet; answers the lease as it now stands, or undefined. */
  releaseLease(orgId: string, id: string, at: number): Promise<LeaseRecord | undefined>;
  /** Records that an owner is alive (a process holding slots while idle). */
  heartbeat(owner: string, at: number): Promise<void>;

  /** Every signing key kept (the current one and retired ones), newest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Sets retired_at where the signing key is not retired yet. */
  retireSigningKey(kid: string, at: number): Promise<boolean>;
  /** Replaces a signing key's stored secret where it still is `from` (sealing a plain secret at rest). */
  replaceSigningKeySecret(kid: string, from: string, to: string): Promise<boolean>;
  /** Deletes signing keys retired before `before` (no token they signed can still be valid); answers how many. */
  pruneSigningKeys(before: number): Promise<number>;

  /** A named server secret, created by the first process that asks (`make`) and then the same for all. */
  serverSecret(name: string, make: () => string, at: number): Promise<string>;
  /** Records a used MCP requestState (forgetting expired ones): true the first time, false for a replay. */
  useRequestState(nonce: string, expiresAt: number, now: number): Promise<boolean>;

  /** Stores a sealed secret to reveal once (deleting expired ones). */
  insertReveal(reveal: RevealRecord): Promise<void>;
  /** Deletes and answers the reveal with this id if it has not expired at `now`: the one time it is shown, in any process. */
  takeReveal(id: string, now: number): Promise<RevealRecord | undefined>;
  /** Whether a reveal with this id waits, unexpired at `now`; changes nothing. */
  hasReveal(id: string, now: number): Promise<boolean>;

  /** Stores a new session (deleting expired ones). */
  insertSession(session: SessionRecord): Promise<void>;
  /**
   * The session with this id if unexpired at `now`, else undefined; its expires_at is moved to `until`
   * when it is before `ifBefore` (by default always), so a caller can write at most once in a while.
   */
  touchSession(id: string, now: number, until: number, ifBefore?: number): Promise<SessionRecord | undefined>;
  /** Ends a session; answers whether one was there. */
  deleteSession(id: string): Promise<boolean>;
}

/**
 * Persistence as the core needs it, behind promises so that a networked backend fits as well as an
 * embedded one. Every backend passes the one contract suite (src/store/contract.ts).
 */
export interface KeyStore extends StoreOps {
  /**
   * Runs fn in one write transaction, taken at once (so reads in it see what they will change). fn
   * must use only the handle it is given; the store's own methods wait until the transaction ends.
   * A throw rolls everything back.
   */
  transaction<T>(fn: (tx: StoreOps) => Promise<T>): Promise<T>;

  /**
   * One gate flush in one write transaction: reads each key the batch names once, lets `decide`
   * (synchronous, pure over what it is given) judge every request, then persists the usage it
   * returns, stamping last_used_at with the flush's time. The counts stay exact across processes
   * because the decision reads the persisted counters under the write lock.
   *
   * The flush's time is `at` when given; without it the store reads its own clock (a database's, where
   * several machines share one, so machines whose clocks disagree still count the same window) and
   * hands it to `decide` as `now`.
   *
   * With a context, `held` tells decide, per key found, the concurrency slots held elsewhere: live
   * leases (of any owner) and the in-flight requests of every other live owner; the batch also
   * stores the slots and leases decide returns (recording the owner as seen at the flush's time when
   * there are any: between them, the owner's heartbeat keeps it live) and adds its outcomes to the
   * hour's usage buckets.
   */
  chargeBatch<T>(
    refs: readonly KeyRef[],
    decide: BatchDecide<T>,
    at?: number,
    context?: BatchContext,
  ): Promise<T[]>;

  /**
   * Why the database cannot take a write now (a committed write that changes nothing, and room to
   * grow), or undefined when it can: for /healthz, the cause for the operator's log.
   */
  writeProblem(): Promise<{ error: string; code?: string } | undefined>;

  close(): Promise<void>;
}
