import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { Caller, Clock } from './auth.js';
import { BoundedCache } from './bounded-cache.js';
import { type CeilingPaths, type RequestedRestrictions, type Restrictions, withinCeilings } from './ceilings.js';
import { DisperslError, invalidRequest, notFound } from './errors.js';
import { nameProblem } from './names.js';
import { type AuditAction, type KeyRecord, type Organization, PERMISSIONS, type Plan, canWrite, missingGrants } from './model.js';
import { type Operation, execute, parseInput, requirePermission } from './operation.js';
import { OPERATIONS, type OperationName, type OperationResult } from './operations/index.js';
import type {
  CreatedKey,
  GenerateKeyInput,
  GetKeyInput,
  KeyList,
  KeyView,
  ListKeysInput,
  RevokeKeyInput,
  RotateKeyInput,
  RotatedKey,
  UpdateKeyInput,
  Whoami,
} from './schemas.js';
import { stateOf } from './schemas.js';
import type { KeyStore, RevealRecord, StoreOps } from './store.js';
import { type RandomSource, generateToken, hashToken, publicId } from './tokens.js';
import { type ReleasedLease, requireVerifier } from './verify.js';
import { Activity, type EventList, type GetUsageInput, type ListEventsInput, type Usage } from './activity.js';

type Args<S extends z.ZodType> = z.output<S>;

/** A list formats the same few timestamps on every call (six per key): keep their text. */
const isoTexts = new BoundedCache<number, string>(10_000);

function iso(ms: number | null): string | null {
  if (ms === null) return null;
  return isoTexts.getOrSet(ms, () => new Date(ms).toISOString());
}

export function toView(key: KeyRecord): KeyView {
  return {
    id: key.id,
    name: key.name,
    environment: key.environment,
    start: key.start,
    permissions: key.permissions,
    allowed_ips: key.allowed_ips,
    expires_at: iso(key.expires_at),
    enabled: key.enabled,
    is_revoked: key.revoked_at !== null,
    revoked_at: iso(key.revoked_at),
    rate_limit: key.rate_limit,
    created_at: iso(key.created_at)!,
    updated_at: iso(key.updated_at)!,
    last_used_at: iso(key.last_used_at),
    rotated_from: key.rotated_from,
    rotated_to: key.rotated_to,
  };
}

/**
 * Seals a new key's secret for a one-time reveal (Reveals.seal). The service stores the record in the
 * transaction that creates the key: the key never exists without the reveal that delivers its secret.
 */
export type SealSecret = (secret: string) => RevealRecord;

/** A fresh key record: live, enabled, never used; the fields given override these. */
function newKeyRecord(fields: Pick<KeyRecord, 'id' | 'org_id' | 'hash' | 'start' | 'name' | 'environment' | 'permissions' | 'created_at' | 'created_by'> & Partial<KeyRecord>): KeyRecord {
  return {
    allowed_ips: [],
    expires_at: null,
    enabled: true,
    revoked_at: null,
    rate_limit: null,
    updated_at: fields.created_at,
    last_used_at: null,
    rotated_from: null,
    rotated_to: null,
    ...fields,
  };
}

/** A non-admin caller may only act on keys that hold nothing it lacks, or it could mint itself more power. */
function requireCover(caller: Caller, permissions: readonly string[]): void {
  const missing = missingGrants(caller.key.permissions, permissions);
  if (missing.length > 0) {
    throw new DisperslError('INSUFFICIENT_PERMISSIONS', `Your key does not hold ${missing.join(', ')}, so it cannot grant or act on it`, {
      required: missing,
    });
  }
}

/** Whether a caller may create and change keys at all (requirePermission's rule for keys:write). */
export function mayWrite(caller: Caller): boolean {
  return canWrite(caller.key.permissions) && caller.key.rotated_to === null;
}

/** What a caller may do to a key, by the rules the operations below enforce: what the dashboard offers, and nothing more. */
export function allowedActions(caller: Caller, key: KeyView, now: number): { update: boolean; disable: boolean; rotate: boolean; revoke: boolean } {
  const mayChange =
    mayWrite(caller) &&
    !key.is_revoked &&
    missingGrants(caller.key.permissions, key.permissions).length === 0 &&
    !(caller.key.environment === 'test' && key.environment === 'live');
  const self = key.id === caller.key.id;
  return { update: mayChange, disable: mayChange && !self, rotate: mayChange && key.rotated_to === null && stateOf(key, now) !== 'expired', revoke: mayChange && !self };
}

/** A test key acts on test keys only: it may not obtain a live secret, nor revoke, rotate or disable a live key. */
function requireEnvironment(caller: Caller, environment: 'live' | 'test'): void {
  if (caller.key.environment === 'test' && environment === 'live') {
    throw new DisperslError('INSUFFICIENT_PERMISSIONS', 'A test key can only create, revoke, rotate or update test keys', { required: ['live environment'] });
  }
}

/** The restrictions of a key the caller creates or rotates, within the caller's own (INVALID_REQUEST otherwise). */
function fitCeilings(caller: Caller, requested: RequestedRestrictions, paths?: CeilingPaths): Restrictions {
  const result = withinCeilings(caller.key, requested, paths);
  if (!result.ok) throw invalidRequest(result.issues);
  return result.restrictions;
}

function encodeCursor(key: KeyRecord): string {
  return Buffer.from(JSON.stringify([key.created_at, key.id])).toString('base64url');
}

function decodeCursor(cursor: string): { created_at: number; id: string } {
  try {
    const [created_at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof created_at === 'number' && Number.isSafeInteger(created_at) && typeof id === 'string') return { created_at, id };
  } catch {
    // falls through to the contract error below
  }
  throw invalidRequest([{ path: 'cursor', message: 'is not a cursor returned by list_keys' }]);
}

/**
 * What a caller may do with keys. Every adapter (MCP tool, REST route, client) reaches these methods
 * through `execute`, which checks the operation's permission and input (src/core/operations) first.
 */
export class KeyService {
  private readonly activity: Activity;

  constructor(
    private readonly store: KeyStore,
    private readonly clock: Clock = Date.now,
    private readonly random: RandomSource = randomBytes,
    options: { usageDays?: number } = {},
  ) {
    this.activity = new Activity(store, clock, options.usageDays);
  }

  usage(caller: Caller, args: Args<typeof GetUsageInput>): Promise<Usage> {
    return this.activity.usage(caller, args);
  }

  events(caller: Caller, args: Args<typeof ListEventsInput>): Promise<EventList> {
    return this.activity.events(caller, args);
  }

  /** An operation by name, for a caller, on raw input: the permission, then the input, then the method. */
  execute<N extends OperationName>(name: N, caller: Caller, input?: unknown, reveal?: SealSecret): Promise<OperationResult<N>> {
    return execute(OPERATIONS[name] as unknown as Operation, this, caller, input, reveal) as Promise<OperationResult<N>>;
  }

  /**
   * The key an operation's input names, for the human to confirm before it runs: the operation's
   * permission and input are checked as `execute` would, and nothing changes.
   */
  async preview(name: OperationName, caller: Caller, input?: unknown): Promise<KeyView> {
    const operation = OPERATIONS[name] as unknown as Operation;
    requirePermission(caller, operation.permission);
    const { id } = parseInput(operation.input, input) as { id?: unknown };
    if (typeof id !== 'string') throw invalidRequest([{ path: 'id', message: 'this operation names no key' }]);
    if (operation.confirm?.notSelf === true && id === caller.key.id) throw new DisperslError('CANNOT_REVOKE_SELF');
    return toView(await this.find(this.store, caller, id));
  }

  /** The id of the key a token is, when it is one of the caller's organization (what may be parked for a reveal, and shown from one); else undefined. */
  async keyIdOfSecret(caller: Caller, token: string): Promise<string | undefined> {
    const found = await this.store.findByHash(hashToken(token));
    return found !== undefined && found.key.org_id === caller.org.id ? found.key.id : undefined;
  }

  async list(caller: Caller, { limit, cursor, include_revoked, environment, name, unused_since, state }: Args<typeof ListKeysInput>): Promise<KeyList> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const unusedSince = unused_since === undefined ? undefined : Date.parse(unused_since);
    const options = { after, limit: limit + 1, includeRevoked: include_revoked, environment, name, unusedSince, state, now: this.clock() };
    const rows = await this.store.listKeys(caller.org.id, options);
    const page = rows.slice(0, limit);
    return { keys: page.map(toView), next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null };
  }

  async get(caller: Caller, { id }: Args<typeof GetKeyInput>): Promise<KeyView> {
    return toView(await this.find(this.store, caller, id));
  }

  /** With `reveal`, the secret is also stored sealed for one reveal, in the key's own transaction. */
  async generate(caller: Caller, args: Args<typeof GenerateKeyInput>, reveal?: SealSecret): Promise<CreatedKey> {
    const now = this.clock();
    const permissions = args.permissions ?? caller.key.permissions;
    requireCover(caller, permissions);
    const environment = args.environment ?? caller.key.environment;
    requireEnvironment(caller, environment);
    const { expires_at, allowed_ips, rate_limit } = fitCeilings(
      caller,
      { expires_at: this.expiry(args.expires_at, args.expires_in_seconds, now) ?? undefined, allowed_ips: args.allowed_ips, rate_limit: args.rate_limit },
      { expires_at: args.expires_in_seconds !== undefined ? 'expires_in_seconds' : 'expires_at' },
    );
    const issued = generateToken(environment, this.random);
    const key = newKeyRecord({
      id: publicId('key', this.random),
      org_id: caller.org.id,
      hash: issued.hash,
      start: issued.start,
      name: args.name,
      environment,
      permissions: [...permissions],
      allowed_ips,
      expires_at,
      rate_limit,
      created_at: now,
      created_by: caller.key.id,
    });
    const sealed = reveal?.(issued.token);
    await this.store.transaction(async (tx) => {
      await tx.insertKey(key);
      if (sealed !== undefined) await tx.insertReveal(sealed);
      await this.audit(tx, caller, key.id, 'created', { name: key.name, environment, permissions: key.permissions }, now);
    });
    return { key: toView(key), secret: issued.token };
  }

  async revoke(caller: Caller, { id }: Args<typeof RevokeKeyInput>): Promise<KeyView> {
    if (id === caller.key.id) {
      throw new DisperslError('CANNOT_REVOKE_SELF', 'A key cannot revoke itself; rotate it instead (rotate_key with grace_period_seconds 0)');
    }
    const now = this.clock();
    return this.store.transaction(async (tx) => {
      const key = await this.find(tx, caller, id);
      requireCover(caller, key.permissions);
      requireEnvironment(caller, key.environment);
      // Revoking twice answers the revoked key again: the outcome the caller asked for holds.
      if (await tx.revokeKey(id, now)) await this.audit(tx, caller, id, 'revoked', {}, now);
      return toView(await this.find(tx, caller, id));
    });
  }

  /** With `reveal`, the new secret is also stored sealed for one reveal, in the rotation's transaction. */
  async rotate(caller: Caller, { id, grace_period_seconds }: Args<typeof RotateKeyInput>, reveal?: SealSecret): Promise<RotatedKey> {
    const now = this.clock();
    return this.store.transaction(async (tx) => {
      const old = await this.find(tx, caller, id);
      requireCover(caller, old.permissions);
      // Rotating hands over a secret of the old key's environment: a test key must not obtain a live one.
      requireEnvironment(caller, old.environment);
      if (old.revoked_at !== null) throw invalidRequest([{ path: 'id', message: 'the key is revoked; generate a new key instead' }]);
      if (old.rotated_to !== null) {
        throw invalidRequest([{ path: 'id', message: `the key was already rotated to ${old.rotated_to}; rotate that key instead` }]);
      }
      if (old.expires_at !== null && old.expires_at <= now) {
        throw invalidRequest([{ path: 'id', message: 'the key has expired; generate a new key instead' }]);
      }
      // The successor keeps the old key's restrictions, which must still fit within the caller's.
      fitCeilings(caller, { expires_at: old.expires_at, allowed_ips: old.allowed_ips, rate_limit: old.rate_limit });
      const issued = generateToken(old.environment, this.random);
      const next = newKeyRecord({
        ...old,
        id: publicId('key', this.random),
        hash: issued.hash,
        start: issued.start,
        enabled: true,
        created_at: now,
        updated_at: now,
        last_used_at: null,
        created_by: caller.key.id,
        rotated_from: old.id,
        rotated_to: null,
      });
      const graceEnd = now + grace_period_seconds * 1000;
      await tx.insertKey(next);
      if (reveal !== undefined) await tx.insertReveal(reveal(issued.token));
      const applied = await tx.rotateKey(old.id, {
        rotated_to: next.id,
        expires_at: grace_period_seconds === 0 ? old.expires_at : Math.min(old.expires_at ?? Infinity, graceEnd),
        revoked_at: grace_period_seconds === 0 ? now : null,
        at: now,
      });
      if (!applied) throw invalidRequest([{ path: 'id', message: 'the key changed while rotating; try again' }]);
      await this.audit(tx, caller, old.id, 'rotated', { rotated_to: next.id, grace_period_seconds }, now);
      await this.audit(tx, caller, next.id, 'created', { rotated_from: old.id }, now);
      return { key: toView(next), secret: issued.token, previous: toView(await this.find(tx, caller, old.id)) };
    });
  }

  async update(caller: Caller, { id, name, enabled }: Args<typeof UpdateKeyInput>): Promise<KeyView> {
    if (id === caller.key.id && enabled === false) {
      throw new DisperslError('CANNOT_REVOKE_SELF', 'A key cannot disable itself; rotate it instead');
    }
    const now = this.clock();
    return this.store.transaction(async (tx) => {
      const key = await this.find(tx, caller, id);
      requireCover(caller, key.permissions);
      requireEnvironment(caller, key.environment);
      if (key.revoked_at !== null) throw invalidRequest([{ path: 'id', message: 'the key is revoked and can no longer change' }]);
      const change = { ...(name !== undefined && { name }), ...(enabled !== undefined && { enabled }) };
      if (!(await tx.updateKey(id, { ...change, at: now }))) {
        throw invalidRequest([{ path: 'id', message: 'the key changed while updating; try again' }]);
      }
      await this.audit(tx, caller, id, 'updated', change, now);
      return toView(await this.find(tx, caller, id));
    });
  }

  async whoami(caller: Caller): Promise<Whoami> {
    const { org, hourly, concurrency } = caller;
    return {
      organization: { id: org.id, name: org.name, plan: org.plan },
      key: toView(caller.key),
      limits: {
        hourly: { limit: hourly.limit, remaining: hourly.remaining, reset_at: new Date(hourly.reset_at).toISOString() },
        concurrency,
      },
    };
  }

  /**
   * Ends a concurrency lease taken by verify with `hold` (keys:verify). Releasing twice, or after
   * expiry, answers the lease as it stands; another organization's lease answers 404 like an unknown one.
   */
  async releaseLease(caller: Caller, id: string): Promise<ReleasedLease> {
    requireVerifier(caller);
    const lease = await this.store.releaseLease(caller.org.id, id, this.clock());
    if (!lease) throw notFound('lease');
    return { id: lease.id, key_id: lease.key_id, expires_at: iso(lease.expires_at)!, released_at: iso(lease.released_at) };
  }

  /** An operator action (`init`): a new organization and its first admin key. */
  createOrganization(input: OrganizationInput): Promise<CreatedOrganization> {
    return this.store.transaction((tx) => this.insertOrganization(tx, input));
  }

  /**
   * `serve` on an empty database: an organization with an admin key, unless one exists. The check
   * and the creation share one write transaction, so servers starting together create one, not two.
   */
  createFirstOrganization(input: OrganizationInput): Promise<CreatedOrganization | undefined> {
    return this.store.transaction(async (tx) => ((await tx.hasOrganizations()) ? undefined : this.insertOrganization(tx, input)));
  }

  private async insertOrganization(tx: StoreOps, input: OrganizationInput): Promise<CreatedOrganization> {
    const name = input.name.trim();
    const problem = name.length < 1 || name.length > 100 ? 'must be 1 to 100 characters' : nameProblem(name);
    if (problem !== undefined) throw invalidRequest([{ path: 'name', message: problem }]);
    const now = this.clock();
    const organization: Organization = {
      id: publicId('org', this.random),
      name,
      plan: input.plan,
      requests_per_hour: input.requests_per_hour ?? null,
      max_concurrency: input.max_concurrency ?? null,
      created_at: now,
    };
    const issued = generateToken('live', this.random);
    const key = newKeyRecord({
      id: publicId('key', this.random),
      org_id: organization.id,
      hash: issued.hash,
      start: issued.start,
      name: 'Admin key',
      environment: 'live',
      permissions: [PERMISSIONS.admin],
      created_at: now,
      created_by: null,
    });
    await tx.insertOrganization(organization);
    await tx.insertKey(key);
    await tx.appendAudit({ org_id: organization.id, key_id: key.id, actor_key_id: null, action: 'created', details: { name: key.name }, at: now });
    return { organization, key: toView(key), secret: issued.token };
  }

  /** Another organization's key answers exactly like a key that does not exist. */
  private async find(store: StoreOps, caller: Caller, id: string): Promise<KeyRecord> {
    const key = await store.getKey(caller.org.id, id);
    if (!key) throw notFound();
    return key;
  }

  private expiry(at: string | undefined, inSeconds: number | undefined, now: number): number | null {
    if (at !== undefined && inSeconds !== undefined) {
      throw invalidRequest([{ path: 'expires_at', message: 'give expires_at or expires_in_seconds, not both' }]);
    }
    if (inSeconds !== undefined) return now + inSeconds * 1000;
    if (at === undefined) return null;
    const ms = Date.parse(at);
    if (ms <= now) throw invalidRequest([{ path: 'expires_at', message: 'must be in the future' }]);
    return ms;
  }

  private audit(tx: StoreOps, caller: Caller, keyId: string, action: AuditAction, details: Record<string, unknown>, at: number): Promise<void> {
    return tx.appendAudit({ org_id: caller.org.id, key_id: keyId, actor_key_id: caller.key.id, action, details, at });
  }
}

export interface OrganizationInput {
  name: string;
  plan: Plan;
  requests_per_hour?: number | undefined;
  max_concurrency?: number | undefined;
}

export interface CreatedOrganization {
  organization: Organization;
  key: KeyView;
  secret: string;
}
