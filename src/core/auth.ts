import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { type AccessGrant, type AccessTokenVerifier, looksLikeAccessToken, narrowPermissions } from './access-tokens.js';
import { DisperslError, asDisperslError } from './errors.js';
import { decideCharge, keyLimits, peekWindows, retryAfterSeconds, type Window } from './limits.js';
import { BoundedCache } from './bounded-cache.js';
import type { KeyRecord, Organization, Usage } from './model.js';
import type { BatchDecision, KeyLookup, KeyRef, KeyStore } from './store.js';
import { hashToken, parseToken } from './tokens.js';

export type Clock = () => number;

/** What a request presents: the token, where it comes from, and optionally the organization it expects. */
export interface Credential {
  token: string | undefined;
  ip: string;
  organizationId?: string | undefined;
}

export interface Caller {
  key: KeyRecord;
  org: Organization;
  /** The quota window that binds this key, after this request's charge (what rate-limit headers report). */
  window: Window;
  /** The plan's hourly quota of this key, after this request's charge (what whoami reports). */
  hourly: Window;
  concurrency: { limit: number; in_flight: number };
}

/** An admitted, charged request. `release` frees its concurrency slot; calling it twice is harmless. */
export interface Admission {
  caller: Caller;
  release(): void;
}

/** The address a stdio caller is treated as coming from: this machine. */
export const LOCAL_IP = '127.0.0.1';

export interface GateOptions {
  /** Accepts OAuth access tokens beside keys; without it a JWT is just a malformed key. */
  accessTokens?: AccessTokenVerifier | undefined;
  /**
   * Charge by the store's clock instead of the gate's (the process's): on a database that several
   * machines share, the hour then comes from the database, so clocks that disagree cannot split a window.
   */
  storeClock?: boolean | undefined;
  /**
   * How many flushes may wait on the store at once (default unlimited). Over a network every flush
   * costs round trips and a commit: with a bound, the requests that arrive meanwhile wait for a
   * flush to end and go together in the next one, so the batches grow with the load instead of the
   * commits (group commit in the classic sense).
   */
  flushesInFlight?: number | undefined;
}

interface Pending {
  ref: KeyRef;
  /** Set for an access token: its key, looked up by id, acts with the token's scopes only. */
  grant?: AccessGrant;
  credential: Credential;
  resolve(admission: Admission): void;
  reject(error: DisperslError): void;
}

function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? mapped[1]! : ip;
}

/**
 * The one way into the service: credential -> caller, or a typed error, in the contract's order
 * (missing, malformed, unknown, revoked, disabled, expired, organization, IP), then the limits.
 *
 * Charges are group-committed: the requests that arrive within one turn of the event loop are
 * checked and counted in a single write transaction, and each is answered only after that commit.
 * The count stays exact and shared across processes (every decision reads the persisted counter
 * inside the write lock) while the commit cost is spread over the batch.
 */
export class Gate {
  private queue: Pending[] = [];
  /** A flush is scheduled for the next turn of the event loop. */
  private scheduled = false;
  /** Flushes waiting on the store. */
  private flushing = 0;
  private readonly inFlight = new Map<string, number>();
  private readonly allowLists = new BoundedCache<string, BlockList>(10_000);

  constructor(
    private readonly store: KeyStore,
    private readonly clock: Clock = Date.now,
    private readonly options: GateOptions = {},
  ) {}

  /** Authenticate and charge one request. */
  admit(credential: Credential): Promise<Admission> {
    const granted = this.grantOf(credential.token);
    if (granted) return granted.then((grant) => this.enqueue({ ref: { id: grant.keyId }, grant, credential }));
    try {
      return this.enqueue({ ref: { hash: this.hashOf(credential.token) }, credential });
    } catch (err) {
      return Promise.reject(asDisperslError(err));
    }
  }

  /** Queues a request for the next flush, which the first request of an event-loop turn schedules. */
  private enqueue(request: Omit<Pending, 'resolve' | 'reject'>): Promise<Admission> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      this.schedule();
    });
  }

  /** Schedules a flush of the queue for the next turn, unless one is scheduled or as many as allowed are under way. */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.flushing >= (this.options.flushesInFlight ?? Number.POSITIVE_INFINITY)) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flushing++;
      void this.flush().finally(() => {
        this.flushing--;
        this.schedule();
      });
    });
  }

  /** Authenticate without charging (MCP initialize, tools/list): the caller, or the error a charged call would get. */
  async peek(credential: Credential): Promise<Caller> {
    const granted = this.grantOf(credential.token);
    const grant = granted && (await granted);
    const lookup = grant ? this.narrowed(await this.store.findById(grant.keyId), grant) : await this.store.findByHash(this.hashOf(credential.token));
    const now = this.clock();
    this.check(lookup, credential, now);
    const { key, org, usage } = lookup!;
    const limits = keyLimits(org, key.environment);
    return {
      key,
      org,
      ...peekWindows(limits.requests_per_hour, key.rate_limit, usage, now),
      concurrency: { limit: limits.max_concurrency, in_flight: this.inFlight.get(key.id) ?? 0 },
    };
  }

  /** An access token's grant being verified, or undefined when the credential is not an access token. */
  private grantOf(token: string | undefined): Promise<AccessGrant> | undefined {
    const verifier = this.options.accessTokens;
    if (!verifier || token === undefined || !looksLikeAccessToken(token)) return undefined;
    return verifier.verify(token, this.clock());
  }

  /** The token's key, read afresh (revocation ends the token at once), acting with the token's scopes only. */
  private narrowed(lookup: KeyLookup | undefined, grant: AccessGrant): KeyLookup | undefined {
    if (!lookup) return undefined;
    return { ...lookup, key: { ...lookup.key, permissions: narrowPermissions(lookup.key.permissions, grant.scopes) } };
  }

  private hashOf(token: string | undefined): string {
    if (token === undefined || token === '') throw new DisperslError('MISSING_API_KEY');
    if (parseToken(token) === undefined) throw new DisperslError('INVALID_API_KEY');
    return hashToken(token);
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    const at = this.options.storeClock ? undefined : this.clock();
    let outcomes: ReadonlyArray<Admission | DisperslError> = [];
    try {
      outcomes = await this.store.chargeBatch(
        batch.map((pending) => pending.ref),
        (found, now) => {
          const decision = this.decide(batch, found, now);
          outcomes = decision.results;
          return decision;
        },
        at,
      );
    } catch (err) {
      // The transaction rolled back: nothing was counted, so no slot may stay taken either.
      for (const outcome of outcomes) if (!(outcome instanceof DisperslError)) outcome.release();
      const error = asDisperslError(err);
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome instanceof DisperslError) pending.reject(outcome);
      else pending.resolve(outcome);
    });
  }

  /**
   * Judges a batch against its keys as read in the flush's transaction. Each key's counter is
   * carried from one request to the next by key id (a key can be reached both by its hash and by an
   * access token's grant), and persisted once, at the end, by the store.
   */
  private decide(batch: readonly Pending[], found: ReadonlyArray<KeyLookup | undefined>, now: number): BatchDecision<Admission | DisperslError> {
    const usage = new Map<string, Usage>();
    const results = batch.map((pending, i) => this.charge(pending, pending.grant ? this.narrowed(found[i], pending.grant) : found[i], now, usage));
    return { results, usage };
  }

  private charge(pending: Pending, lookup: KeyLookup | undefined, now: number, counted: Map<string, Usage>): Admission | DisperslError {
    try {
      this.check(lookup, pending.credential, now);
      const { key, org } = lookup;
      const usage = counted.get(key.id) ?? lookup.usage;
      const limits = keyLimits(org, key.environment);
      const decision = decideCharge(limits.requests_per_hour, key.rate_limit, usage, now);
      if (decision.kind === 'deny') {
        return new DisperslError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded', {
          limit: decision.window.limit,
          remaining: 0,
          reset_at: new Date(decision.window.reset_at).toISOString(),
          retry_after: retryAfterSeconds(decision.retry_after_ms),
        });
      }
      const inFlight = this.inFlight.get(key.id) ?? 0;
      if (inFlight >= limits.max_concurrency) {
        return new DisperslError('CONCURRENCY_LIMIT_EXCEEDED', undefined, {
          limit: limits.max_concurrency,
          in_flight: inFlight,
          remaining: decision.window.remaining + 1,
          reset_at: new Date(decision.window.reset_at).toISOString(),
          retry_after: 1,
        });
      }
      counted.set(key.id, decision.usage);
      this.inFlight.set(key.id, inFlight + 1);
      return {
        caller: { key: { ...key, last_used_at: now }, org, window: decision.window, hourly: decision.hourly, concurrency: { limit: limits.max_concurrency, in_flight: inFlight + 1 } },
        release: this.releaser(key.id),
      };
    } catch (err) {
      return asDisperslError(err);
    }
  }

  private releaser(keyId: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(keyId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(keyId, left);
      else this.inFlight.delete(keyId);
    };
  }

  private check(lookup: KeyLookup | undefined, credential: Credential, now: number): asserts lookup is KeyLookup {
    if (!lookup) throw new DisperslError('INVALID_API_KEY');
    const { key } = lookup;
    if (key.revoked_at !== null) throw new DisperslError('REVOKED_API_KEY');
    if (!key.enabled) throw new DisperslError('DISABLED_API_KEY');
    if (key.expires_at !== null && key.expires_at <= now) {
      throw new DisperslError('EXPIRED_API_KEY', 'The API key has expired', { expired_at: new Date(key.expires_at).toISOString() });
    }
    if (credential.organizationId !== undefined && credential.organizationId !== key.org_id) {
      throw new DisperslError('ORGANIZATION_FORBIDDEN');
    }
    if (key.allowed_ips.length > 0 && !this.ipAllowed(key.allowed_ips, credential.ip)) {
      throw new DisperslError('IP_NOT_ALLOWED', undefined, { ip: normalizeIp(credential.ip) });
    }
  }

  private ipAllowed(entries: string[], ip: string): boolean {
    const address = normalizeIp(ip);
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    return family !== undefined && this.allowListOf(entries).check(address, family);
  }

  private allowListOf(entries: string[]): BlockList {
    return this.allowLists.getOrSet(entries.join(','), () => {
      const list = new BlockList();
      for (const entry of entries) {
        const [address, bits] = entry.split('/') as [string, string | undefined];
        const family = isIPv4(address) ? 'ipv4' : 'ipv6';
        if (bits === undefined) list.addAddress(address, family);
        else list.addSubnet(address, Number(bits), family);
      }
      return list;
    });
  }
}
