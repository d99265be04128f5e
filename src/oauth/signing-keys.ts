import { type KeyObject, createSecretKey, randomBytes } from 'node:crypto';
import type { Clock } from '../core/auth.js';
import type { KeyStore, SigningKeyRecord, StoreOps } from '../core/store.js';
import { type RandomSource, randomBase62 } from '../core/tokens.js';
import { isSealed, openSecret, sealSecret } from './secret-box.js';

export interface SigningKey {
  kid: string;
  /** A KeyObject, so jose converts it to a CryptoKey once (it caches by object) instead of on every call. */
  secret: KeyObject;
  created_at: number;
  retired_at: number | null;
}

export interface SigningKeysOptions {
  /**
   * DISPERSL_SECRET_KEY (32 bytes): secrets are then stored sealed with it (AES-256-GCM), and prepare()
   * seals those still stored plain. Without it secrets are stored plain, as base64url.
   */
  encryptionKey?: Buffer | undefined;
  clock?: Clock;
  random?: RandomSource;
  /** How long a token lives: a retired key keeps verifying for this long after it stopped signing. */
  tokenLifetimeMs: number;
  /** The current key is replaced when it is older than this (checked when a token is issued). */
  maxAgeMs?: number;
}

/** Time after which a key a verifier holds in memory is read again, to notice retirement by another process. */
const RELOAD_AFTER_MS = 60_000;
export const DEFAULT_SIGNING_KEY_MAX_AGE_MS = 30 * 24 * 3_600_000;

/** Throws SigningSecretError when the secret is sealed and the key is missing or wrong. */
function load(record: SigningKeyRecord, encryptionKey: Buffer | undefined): SigningKey {
  return { kid: record.kid, secret: createSecretKey(openSecret(record.secret, encryptionKey, record.kid)), created_at: record.created_at, retired_at: record.retired_at };
}

/**
 * The HS256 secrets that sign access tokens, kept in the database so every process sharing it signs
 * and verifies alike. The first is made on first use; rotation retires the current one, which keeps
 * verifying the tokens it signed until they expire, and starts a new one.
 */
export class SigningKeys {
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly maxAgeMs: number;
  private byKid = new Map<string, SigningKey>();
  private loadedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: KeyStore,
    private readonly options: SigningKeysOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? randomBytes;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_SIGNING_KEY_MAX_AGE_MS;
  }

  /**
   * Reads every stored secret once, so that a missing or wrong DISPERSL_SECRET_KEY fails at start-up,
   * clearly (SigningSecretError), rather than at the first token; with a key, seals the secrets still
   * stored plain (a database from before the key was set). Each is rewritten only where it is still
   * the plain value read, so processes starting together cannot overwrite one another.
   */
  async prepare(): Promise<void> {
    const key = this.options.encryptionKey;
    for (const record of await this.store.listSigningKeys()) {
      const secret = openSecret(record.secret, key, record.kid);
      if (key !== undefined && !isSealed(record.secret)) {
        await this.store.replaceSigningKeySecret(record.kid, record.secret, sealSecret(secret, key, record.kid, this.random));
      }
    }
    this.byKid.clear();
    this.loadedAt = Number.NEGATIVE_INFINITY;
  }

  /** The key to sign with. Read from the store each time (issuing is rare), so no process signs with a key another retired. */
  async current(): Promise<SigningKey> {
    const now = this.clock();
    const fresh = (k: SigningKeyRecord | undefined): k is SigningKeyRecord => k !== undefined && now - k.created_at < this.maxAgeMs;
    const found = (await this.store.listSigningKeys()).find((k) => k.retired_at === null);
    if (fresh(found)) return this.remember(found);
    // Creating or replacing happens in one write transaction, so two processes starting together agree on one key.
    return this.store.transaction(async (tx) => {
      const again = (await tx.listSigningKeys()).find((k) => k.retired_at === null);
      return this.remember(fresh(again) ? again : await this.replace(tx, again, now));
    });
  }

  /** Retires the current key (if any) and starts a new one; tokens signed before stay valid until they expire. */
  rotate(): Promise<SigningKey> {
    const now = this.clock();
    return this.store.transaction(async (tx) => this.remember(await this.replace(tx, (await tx.listSigningKeys()).find((k) => k.retired_at === null), now)));
  }

  /** The key a token names, if it may still verify at `now`: current, or retired less than a token lifetime ago. */
  async forVerifying(kid: string, now: number): Promise<SigningKey | undefined> {
    let key = this.byKid.get(kid);
    if (key === undefined || now - this.loadedAt >= RELOAD_AFTER_MS) {
      await this.reload(now);
      key = this.byKid.get(kid);
    }
    if (key === undefined) return undefined;
    return key.retired_at === null || now < key.retired_at + this.options.tokenLifetimeMs ? key : undefined;
  }

  private async replace(tx: StoreOps, current: SigningKeyRecord | undefined, now: number): Promise<SigningKeyRecord> {
    if (current) await tx.retireSigningKey(current.kid, now);
    // Keys retired longer ago than a token lives can no longer verify anything.
    await tx.pruneSigningKeys(now - this.options.tokenLifetimeMs);
    const kid = `sk_${randomBase62(20, this.random)}`;
    const secret = this.random(32);
    const key = this.options.encryptionKey;
    const record: SigningKeyRecord = {
      kid,
      alg: 'HS256',
      secret: key === undefined ? secret.toString('base64url') : sealSecret(secret, key, kid, this.random),
      created_at: now,
      retired_at: null,
    };
    await tx.insertSigningKey(record);
    this.byKid.clear();
    this.loadedAt = Number.NEGATIVE_INFINITY;
    return record;
  }

  private async reload(now: number): Promise<void> {
    const next = new Map<string, SigningKey>();
    for (const record of await this.store.listSigningKeys()) {
      const known = this.byKid.get(record.kid);
      // Keep the loaded KeyObject, so jose's per-object CryptoKey cache stays warm.
      next.set(record.kid, known ? { ...known, retired_at: record.retired_at } : load(record, this.options.encryptionKey));
    }
    this.byKid = next;
    this.loadedAt = now;
  }

  private remember(record: SigningKeyRecord): SigningKey {
    const known = this.byKid.get(record.kid);
    if (known) return known;
    const key = load(record, this.options.encryptionKey);
    this.byKid.set(record.kid, key);
    return key;
  }
}
