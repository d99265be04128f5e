import { randomBytes } from 'node:crypto';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { type AccessGrant, type AccessTokenVerifier, looksLikeAccessToken, narrowPermissions } from './access-tokens.js';
import { DisperslError, asDisperslError } from './errors.js';
import { decideCharge, keyLimits, peekWindows, retryAfterSeconds, type Window } from './limits.js';
import { BoundedCache } from './bounded-cache.js';
import { type KeyRecord, type LeaseRecord, type Organization, type OutcomeCounts, type Usage, hasPermission } from './model.js';
import { type BatchDecision, type KeyLookup, type KeyRef, type KeyStore, OWNER_TTL_MS } from './store.js';
import { hashToken, parseToken } from './tokens.js';

export type Clock = () => number;

/** What one flush accumulates while it judges its requests in order. */
interface BatchState {
  usage: Map<string, Usage>;
  outcomes: Map<string, OutcomeCounts>;
  leases: LeaseRecord[];
  /** Slots held elsewhere per key, plus the leases this batch has taken. */
  held: Map<string, number>;
  now: number;
}

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
  /** Days of hourly usage buckets kept; older ones are deleted once an hour (default 90). */
  usageDays?: number | undefined;
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

/** A verification asked for by a service's key (POST /v1/keys/verify): what the verified key must satisfy. */
export interface VerifyRequest {
  token: string;
  /** The verifier's organization: a key of any other reads as unknown. */
  orgId: string;
  permissions: readonly string[];
  /** Requests charged to the verified key's quota (0: check only). */
  cost: number;
  /** The end user's address, checked against the key's allowlist; without it a key with an allowlist is refused. */
  ip: string | undefined;
  /** Take a concurrency slot as a lease for this long. */
  holdMs?: number | undefined;
}

/** What verify found: the error type (or VALID), and whatever of the key, its window and its lease applies. */
export interface Verification {
  error: DisperslError | undefined;
  key: KeyRecord | undefined;
  org: Organization | undefined;
  window: Window | undefined;
  lease: { id: string; expires_at: number } | undefined;
}

interface Pending {
  ref: KeyRef;
  /** Set for an access token: its key, looked up by id, acts with the token's scopes only. */
  grant?: AccessGrant;
  credential: Credential;
  /** Set for a verification: the key it names is judged and charged, and the outcome is data, not an admission. */
  verify?: VerifyRequest;
  resolve(outcome: Admission | Verification): void;
  reject(error: DisperslError): void;
}

/** How often a process that holds slots while idle tells the others it is alive (well within OWNER_TTL_MS). */
const HEARTBEAT_MS = 5_000;

/**
 * How long a released slot (of a key far from its limit) waits for a flush to carry it before a flush
 * is made for it alone. Under load the next requests' flush carries it; an idle process writes it this soon.
 */
const RELEASE_WRITE_MS = 5;

/** A flush under way: whether another ran beside it. */
interface Flush {
  overlapped: boolean;
}

/** A count no flush can equal: written again whatever it is. */
const UNKNOWN_SLOTS = -1;

/** An IPv4 address written as IPv6 (`::ffff:203.0.113.7`) reads as the IPv4 address it is. */
export function normalizeIp(ip: string): string {
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
  /** The flushes under way, each marked once another has run beside it (the database may then have applied the two in either order). */
  private readonly flushes = new Set<Flush>();
  /** Released slots waited RELEASE_WRITE_MS with no flush to carry them: the next flush is due even with no request. */
  private slotsDue = false;
  private slotsTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly inFlight = new Map<string, number>();
  /** Keys whose in-flight count changed since the last flush wrote this process's slots. */
  private readonly dirtySlots = new Set<string>();
  /** Each key's in-flight count as this process last committed it (absent: 0; UNKNOWN_SLOTS: not known, write it again). */
  private readonly writtenSlots = new Map<string, number>();
  private readonly allowLists = new BoundedCache<string, BlockList>(10_000);
  /** This process, as the owner of the slots and leases it holds (shared through the store with every other process). */
  readonly owner = `proc_${randomBytes(9).toString('base64url')}`;
  /** The latest expiry of a lease this process granted: until then it keeps heartbeating. */
  private leasesUntil = 0;
  private heartbeats: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly clock: Clock = Date.now,
    private readonly options: GateOptions = {},
  ) {}

  /** Authenticate and charge one request. */
  admit(credential: Credential): Promise<Admission> {
    const granted = this.grantOf(credential.token);
    if (granted) return granted.then((grant) => this.enqueue({ ref: { id: grant.keyId }, grant, credential }) as Promise<Admission>);
    try {
      return this.enqueue({ ref: { hash: this.hashOf(credential.token) }, credential }) as Promise<Admission>;
    } catch (err) {
      return Promise.reject(asDisperslError(err));
    }
  }

  /**
   * Judge another key of the verifier's organization and charge it `cost`, in the same batch as
   * every request: the answer is data (a Verification), whatever the key's state.
   */
  verify(request: VerifyRequest): Promise<Verification> {
    let hash: string;
    try {
      hash = this.hashOf(request.token);
    } catch (err) {
      return Promise.resolve({ error: asDisperslError(err), key: undefined, org: undefined, window: undefined, lease: undefined });
    }
    return this.enqueue({ ref: { hash }, credential: { token: request.token, ip: request.ip ?? '' }, verify: request }) as Promise<Verification>;
  }

  /** Queues a request for the next flush, which the first request of an event-loop turn schedules. */
  private enqueue(request: Omit<Pending, 'resolve' | 'reject'>): Promise<Admission | Verification> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      this.schedule();
    });
  }

  /** Schedules a flush of the queue (or of due slots) for the next turn, unless one is scheduled or as many as allowed are under way. */
  private schedule(): void {
    if (this.scheduled || (this.queue.length === 0 && !this.slotsDue) || this.flushes.size >= (this.options.flushesInFlight ?? Number.POSITIVE_INFINITY)) return;
    this.scheduled = true;
    setImmediate(() => {
      const flush: Flush = { overlapped: this.flushes.size > 0 };
      for (const other of this.flushes) other.overlapped = true;
      this.flushes.add(flush);
      void this.flush(flush).finally(() => {
        this.flushes.delete(flush);
        this.schedule();
      });
    });
  }

  /** Authenticate without charging (MCP initialize, tools/list): the caller, or the error a charged call would get. */
  async peek(credential: Credential): Promise<Caller> {
    const granted = this.grantOf(credential.token);
    const grant = granted && (await granted);
    const lookup = grant ? this.narrowed(await this.store.findById(grant.keyId), grant) : await this.store.findByHash(this.hashOf(credential.token));
    return this.callerOf(lookup, credential);
  }

  /**
   * The caller of a key named by id (a dashboard session's key), checked as its token would be on
   * this request (revoked, disabled, expired, IP), charging nothing.
   */
  async peekKey(keyId: string, credential: Omit<Credential, 'token'>): Promise<Caller> {
    return this.callerOf(await this.store.findById(keyId), { ...credential, token: undefined });
  }

  private callerOf(lookup: KeyLookup | undefined, credential: Credential): Caller {
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

  private async flush(self: Flush): Promise<void> {
    this.scheduled = false;
    this.slotsDue = false;
    const batch = this.queue;
    this.queue = [];
    // A flush with no request still writes the slots released since the last one, so other processes see them free.
    if (batch.length === 0 && this.dirtySlots.size === 0) return;
    const local = this.clock();
    let now = local;
    let outcomes: ReadonlyArray<Admission | Verification | DisperslError> = [];
    let slots: ReadonlyMap<string, number> = new Map();
    try {
      outcomes = await this.store.chargeBatch(
        batch.map((pending) => pending.ref),
        (found, at, held) => {
          now = at;
          const decision = this.decide(batch, found, held, at);
          outcomes = decision.results;
          slots = decision.slots;
          return decision;
        },
        this.options.storeClock ? undefined : local,
        { owner: this.owner, liveAfter: local - OWNER_TTL_MS },
      );
    } catch (err) {
      // The transaction rolled back: nothing was counted, so no slot may stay taken either.
      for (const outcome of outcomes) if (outcome instanceof Object && 'release' in outcome) outcome.release();
      // Its counts were not written: they go with the next flush (none is forced, so a store that is gone is not retried).
      for (const keyId of slots.keys()) this.dirtySlots.add(keyId);
      const error = asDisperslError(err);
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.committedSlots(slots, self.overlapped);
    this.keepAlive();
    this.pruneUsage(now);
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
  private decide(
    batch: readonly Pending[],
    found: ReadonlyArray<KeyLookup | undefined>,
    held: ReadonlyMap<string, number>,
    now: number,
  ): BatchDecision<Admission | Verification | DisperslError> & { slots: ReadonlyMap<string, number> } {
    const state: BatchState = { usage: new Map(), outcomes: new Map(), leases: [], held: new Map(held), now };
    const results = batch.map((pending, i) => {
      let lookup = pending.grant ? this.narrowed(found[i], pending.grant) : found[i];
      // Another organization's key is, to a verifier, a key that does not exist: nothing is counted on it.
      if (pending.verify && lookup && lookup.key.org_id !== pending.verify.orgId) lookup = undefined;
      const outcome = this.charge(pending, lookup, state);
      if (lookup) this.count(state.outcomes, lookup, outcome);
      return pending.verify ? this.verification(outcome, lookup) : outcome;
    });
    const slots = new Map<string, number>();
    for (const keyId of this.dirtySlots) {
      const n = this.inFlight.get(keyId) ?? 0;
      // Back where it was last written (one request ended, another began): nothing to write.
      if (n !== (this.writtenSlots.get(keyId) ?? 0)) slots.set(keyId, n);
    }
    this.dirtySlots.clear();
    return { results, usage: state.usage, outcomes: state.outcomes, leases: state.leases, slots };
  }

  private count(outcomes: Map<string, OutcomeCounts>, lookup: KeyLookup, outcome: Admission | DisperslError): void {
    let counts = outcomes.get(lookup.key.id);
    if (!counts) outcomes.set(lookup.key.id, (counts = { org_id: lookup.key.org_id, admitted: 0, rate_limited: 0, denied: 0 }));
    if (!(outcome instanceof DisperslError)) counts.admitted++;
    else if (outcome.status === 429) counts.rate_limited++;
    else counts.denied++;
  }

  private verification(outcome: Admission | DisperslError, lookup: KeyLookup | undefined): Verification {
    if (outcome instanceof DisperslError) {
      const details = outcome.details as { limit?: number; reset_at?: string };
      const window =
        outcome.status === 429 && details.limit !== undefined && details.reset_at !== undefined
          ? { limit: details.limit, remaining: 0, reset_at: Date.parse(details.reset_at), window_ms: 0 }
          : undefined;
      return { error: outcome, key: lookup?.key, org: lookup?.org, window, lease: undefined };
    }
    const { caller } = outcome;
    const lease = (outcome as Admission & { lease?: Verification['lease'] }).lease;
    return { error: undefined, key: caller.key, org: caller.org, window: caller.window, lease };
  }

  private charge(pending: Pending, lookup: KeyLookup | undefined, state: BatchState): Admission | DisperslError {
    const { now, usage: counted } = state;
    try {
      this.check(lookup, pending.credential, now);
      const { key, org } = lookup;
      const verify = pending.verify;
      if (verify) {
        const missing = verify.permissions.filter((p) => !hasPermission(key.permissions, p));
        if (missing.length > 0) throw new DisperslError('INSUFFICIENT_PERMISSIONS', 'The key lacks a permission the verifier asked for', { required: missing });
      }
      const usage = counted.get(key.id) ?? lookup.usage;
      const limits = keyLimits(org, key.environment);
      const decision = decideCharge(limits.requests_per_hour, key.rate_limit, usage, now, verify ? verify.cost : 1);
      if (decision.kind === 'deny') {
        return new DisperslError('RATE_LIMIT_EXCEEDED', 'Rate limit exceeded', {
          limit: decision.window.limit,
          remaining: 0,
          reset_at: new Date(decision.window.reset_at).toISOString(),
          retry_after: retryAfterSeconds(decision.retry_after_ms),
        });
      }
      // Concurrency counts this process's in-flight requests, and every other live process's, and the leases.
      const local = this.inFlight.get(key.id) ?? 0;
      const inFlight = local + (state.held.get(key.id) ?? 0);
      const takesSlot = !verify || verify.holdMs !== undefined;
      if (takesSlot && inFlight >= limits.max_concurrency) {
        return new DisperslError('CONCURRENCY_LIMIT_EXCEEDED', undefined, {
          limit: limits.max_concurrency,
          in_flight: inFlight,
          remaining: decision.window.remaining + (verify ? verify.cost : 1),
          reset_at: new Date(decision.window.reset_at).toISOString(),
          retry_after: 1,
        });
      }
      counted.set(key.id, decision.usage);
      const caller: Caller = {
        key: { ...key, last_used_at: now },
        org,
        window: decision.window,
        hourly: decision.hourly,
        concurrency: { limit: limits.max_concurrency, in_flight: inFlight + (takesSlot ? 1 : 0) },
      };
      if (verify) {
        if (verify.holdMs === undefined) return { caller, release: () => {} };
        const lease: LeaseRecord = {
          id: `lease_${randomBytes(16).toString('base64url')}`,
          org_id: org.id,
          key_id: key.id,
          owner: this.owner,
          expires_at: now + verify.holdMs,
          created_at: now,
          released_at: null,
        };
        state.leases.push(lease);
        state.held.set(key.id, (state.held.get(key.id) ?? 0) + 1);
        this.leasesUntil = Math.max(this.leasesUntil, lease.expires_at);
        return Object.assign({ caller, release: () => {} }, { lease: { id: lease.id, expires_at: lease.expires_at } });
      }
      this.inFlight.set(key.id, local + 1);
      this.dirtySlots.add(key.id);
      // Near its limit, a slot this process still shows after its request ended could refuse one elsewhere.
      const nearLimit = (inFlight + 1) * 2 > limits.max_concurrency;
      return { caller, release: this.releaser(key.id, nearLimit) };
    } catch (err) {
      return asDisperslError(err);
    }
  }

  /**
   * A released slot is written with the next flush. For a key that was near its limit (more than
   * half of it in flight, in every process, at this request's admission) that flush is due at once,
   * so a caller that goes on to another process does not meet its own finished request there. Any
   * other release rides along with the flush of the requests that follow, which under load come
   * within a turn or two, and costs no write of its own (see writeSlotsSoon). Either way a slot
   * written late can only refuse a request elsewhere, never admit one too many.
   */
  private releaser(keyId: string, nearLimit: boolean): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(keyId) ?? 1) - 1;
      if (left > 0) this.inFlight.set(keyId, left);
      else this.inFlight.delete(keyId);
      this.dirtySlots.add(keyId);
      if (nearLimit) {
        this.slotsDue = true;
        this.schedule();
      } else {
        this.writeSlotsSoon();
      }
    };
  }

  /**
   * After a commit, what it wrote is what the other processes see, unless another flush ran beside it
   * (then either may have committed last). A count that has moved on since, or is not known, is written again.
   */
  private committedSlots(slots: ReadonlyMap<string, number>, overlapped: boolean): void {
    for (const [keyId, n] of slots) {
      // Beside another flush, the database may have applied the two in either order (row locks, not
      // the order their answers came back in): what it holds is not known, so the next flush writes it.
      if (overlapped) this.writtenSlots.set(keyId, UNKNOWN_SLOTS);
      else if (n === 0) this.writtenSlots.delete(keyId);
      else this.writtenSlots.set(keyId, n);
      if (overlapped || n !== (this.inFlight.get(keyId) ?? 0)) this.dirtySlots.add(keyId);
    }
    if (this.dirtySlots.size > 0) this.writeSlotsSoon();
  }

  /** Released slots that no flush has carried within RELEASE_WRITE_MS get a flush of their own. */
  private writeSlotsSoon(): void {
    if (this.slotsTimer !== undefined) return;
    this.slotsTimer = setTimeout(() => {
      this.slotsTimer = undefined;
      if (this.dirtySlots.size === 0) return;
      // A flush under way or about to start may still carry them: look again later rather than add one.
      if (this.flushes.size > 0 || this.scheduled) return this.writeSlotsSoon();
      this.slotsDue = true;
      this.schedule();
    }, RELEASE_WRITE_MS);
    this.slotsTimer.unref();
  }

  private prunedHour = -1;

  /** Once an hour per process, usage buckets past the retention go: off the request path, outside the batch. */
  private pruneUsage(now: number): void {
    const hour = Math.floor(now / 3_600_000);
    if (hour === this.prunedHour) return;
    this.prunedHour = hour;
    this.store.pruneUsage(now - (this.options.usageDays ?? 90) * 86_400_000).catch(() => {});
  }

  /**
   * While this process holds slots (requests in flight, leases it granted), it heartbeats so the
   * others keep counting them; once it holds nothing the timer stops. A dead process stops
   * heartbeating, and its slots free themselves within OWNER_TTL_MS.
   */
  private keepAlive(): void {
    if (this.heartbeats !== undefined) return;
    this.heartbeats = setInterval(() => {
      const now = this.clock();
      if (this.inFlight.size === 0 && this.leasesUntil <= now) {
        clearInterval(this.heartbeats);
        this.heartbeats = undefined;
        return;
      }
      this.store.heartbeat(this.owner, now).catch(() => {});
    }, HEARTBEAT_MS);
    this.heartbeats.unref();
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
