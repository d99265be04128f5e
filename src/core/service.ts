import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { Caller, Clock } from './auth.js';
import { type CeilingPaths, type RequestedRestrictions, type Restrictions, withinCeilings } from './ceilings.js';
import { DisperslError, invalidRequest, notFound } from './errors.js';
import { nameProblem } from './names.js';
import { type AuditAction, type KeyRecord, type Organization, PERMISSIONS, type Plan, canGrant, hasPermission } from './model.js';
import {
  type CreatedKey,
  GenerateKeyInput,
  GetKeyInput,
  type KeyList,
  type KeyView,
  ListKeysInput,
  RevokeKeyInput,
  RotateKeyInput,
  type RotatedKey,
  UpdateKeyInput,
  type Whoami,
  WhoamiInput,
  issuesOf,
} from './schemas.js';
import type { KeyStore } from './store.js';
import { type RandomSource, generateToken, publicId } from './tokens.js';

/** A list formats the same few timestamps on every call (six per key): keep their text. */
const isoTexts = new Map<number, string>();

function iso(ms: number | null): string | null {
  if (ms === null) return null;
  let text = isoTexts.get(ms);
  if (text === undefined) {
    text = new Date(ms).toISOString();
    if (isoTexts.size >= 10_000) isoTexts.clear();
    isoTexts.set(ms, text);
  }
  return text;
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

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw invalidRequest(issuesOf(result.error));
  return result.data;
}

function require(caller: Caller, permission: string): void {
  if (!hasPermission(caller.key.permissions, permission)) {
    throw new DisperslError('INSUFFICIENT_PERMISSIONS', `This action needs the ${permission} permission`, { required: [permission] });
  }
  if (permission === PERMISSIONS.write) requireNotRotated(caller);
}

/**
 * A rotated key lives on only so that its service can switch to the successor. If it was rotated
 * because it leaked, whoever holds it must not mint, rotate or change keys (its successor included).
 */
function requireNotRotated(caller: Caller): void {
  if (caller.key.rotated_to !== null) {
    throw new DisperslError(
      'INSUFFICIENT_PERMISSIONS',
      'This key has been rotated and works only until its grace period ends; a rotated key cannot create, revoke, rotate or update keys. Use the key it was rotated to.',
      { required: [PERMISSIONS.write], reason: 'key_rotated' },
    );
  }
}

/** A non-admin caller may only act on keys that hold nothing it lacks, or it could mint itself more power. */
function requireCover(caller: Caller, permissions: readonly string[]): void {
  const missing = canGrant(caller.key.permissions, permissions);
  if (missing.length > 0) {
    throw new DisperslError('INSUFFICIENT_PERMISSIONS', `Your key does not hold ${missing.join(', ')}, so it cannot grant or act on it`, {
      required: missing,
    });
  }
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

/** What a caller may do with keys. Every adapter (MCP tool, REST route) calls exactly one method here. */
export class KeyService {
  constructor(
    private readonly store: KeyStore,
    private readonly clock: Clock = Date.now,
    private readonly random: RandomSource = randomBytes,
  ) {}

  list(caller: Caller, input: unknown): KeyList {
    require(caller, PERMISSIONS.read);
    const { limit, cursor, include_revoked } = parse(ListKeysInput, input);
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const rows = this.store.listKeys(caller.org.id, { after, limit: limit + 1, includeRevoked: include_revoked });
    const page = rows.slice(0, limit);
    return { keys: page.map(toView), next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!) : null };
  }

  get(caller: Caller, input: unknown): KeyView {
    require(caller, PERMISSIONS.read);
    const { id } = parse(GetKeyInput, input);
    return toView(this.find(caller, id));
  }

  generate(caller: Caller, input: unknown): CreatedKey {
    require(caller, PERMISSIONS.write);
    const args = parse(GenerateKeyInput, input);
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
    const key: KeyRecord = {
      id: publicId('key', this.random),
      org_id: caller.org.id,
      hash: issued.hash,
      start: issued.start,
      name: args.name,
      environment,
      permissions: [...permissions],
      allowed_ips,
      expires_at,
      enabled: true,
      revoked_at: null,
      rate_limit,
      created_at: now,
      updated_at: now,
      last_used_at: null,
      created_by: caller.key.id,
      rotated_from: null,
      rotated_to: null,
    };
    this.store.transaction(() => {
      this.store.insertKey(key);
      this.audit(caller, key.id, 'created', { name: key.name, environment, permissions: key.permissions }, now);
    });
    return { key: toView(key), secret: issued.token };
  }

  revoke(caller: Caller, input: unknown): KeyView {
    require(caller, PERMISSIONS.write);
    const { id } = parse(RevokeKeyInput, input);
    if (id === caller.key.id) {
      throw new DisperslError('CANNOT_REVOKE_SELF', 'A key cannot revoke itself; rotate it instead (rotate_key with grace_period_seconds 0)');
    }
    const now = this.clock();
    return this.store.transaction(() => {
      const key = this.find(caller, id);
      requireCover(caller, key.permissions);
      requireEnvironment(caller, key.environment);
      // Revoking twice answers the revoked key again: the outcome the caller asked for holds.
      if (this.store.revokeKey(id, now)) this.audit(caller, id, 'revoked', {}, now);
      return toView(this.find(caller, id));
    });
  }

  rotate(caller: Caller, input: unknown): RotatedKey {
    require(caller, PERMISSIONS.write);
    const { id, grace_period_seconds } = parse(RotateKeyInput, input);
    const now = this.clock();
    return this.store.transaction(() => {
      const old = this.find(caller, id);
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
      const next: KeyRecord = {
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
      };
      const graceEnd = now + grace_period_seconds * 1000;
      this.store.insertKey(next);
      const applied = this.store.rotateKey(old.id, {
        rotated_to: next.id,
        expires_at: grace_period_seconds === 0 ? old.expires_at : Math.min(old.expires_at ?? Infinity, graceEnd),
        revoked_at: grace_period_seconds === 0 ? now : null,
        at: now,
      });
      if (!applied) throw invalidRequest([{ path: 'id', message: 'the key changed while rotating; try again' }]);
      this.audit(caller, old.id, 'rotated', { rotated_to: next.id, grace_period_seconds }, now);
      this.audit(caller, next.id, 'created', { rotated_from: old.id }, now);
      return { key: toView(next), secret: issued.token, previous: toView(this.find(caller, old.id)) };
    });
  }

  update(caller: Caller, input: unknown): KeyView {
    require(caller, PERMISSIONS.write);
    const { id, name, enabled } = parse(UpdateKeyInput, input);
    if (id === caller.key.id && enabled === false) {
      throw new DisperslError('CANNOT_REVOKE_SELF', 'A key cannot disable itself; rotate it instead');
    }
    const now = this.clock();
    return this.store.transaction(() => {
      const key = this.find(caller, id);
      requireCover(caller, key.permissions);
      requireEnvironment(caller, key.environment);
      if (key.revoked_at !== null) throw invalidRequest([{ path: 'id', message: 'the key is revoked and can no longer change' }]);
      const change = { ...(name !== undefined && { name }), ...(enabled !== undefined && { enabled }) };
      if (!this.store.updateKey(id, { ...change, at: now })) {
        throw invalidRequest([{ path: 'id', message: 'the key changed while updating; try again' }]);
      }
      this.audit(caller, id, 'updated', change, now);
      return toView(this.find(caller, id));
    });
  }

  whoami(caller: Caller, input?: unknown): Whoami {
    parse(WhoamiInput, input);
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

  /** An operator action (`init`): a new organization and its first admin key. */
  createOrganization(input: { name: string; plan: Plan; requests_per_hour?: number | undefined; max_concurrency?: number | undefined }): {
    organization: Organization;
    key: KeyView;
    secret: string;
  } {
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
    const key: KeyRecord = {
      id: publicId('key', this.random),
      org_id: organization.id,
      hash: issued.hash,
      start: issued.start,
      name: 'Admin key',
      environment: 'live',
      permissions: [PERMISSIONS.admin],
      allowed_ips: [],
      expires_at: null,
      enabled: true,
      revoked_at: null,
      rate_limit: null,
      created_at: now,
      updated_at: now,
      last_used_at: null,
      created_by: null,
      rotated_from: null,
      rotated_to: null,
    };
    this.store.transaction(() => {
      this.store.insertOrganization(organization);
      this.store.insertKey(key);
      this.store.appendAudit({ org_id: organization.id, key_id: key.id, actor_key_id: null, action: 'created', details: { name: key.name }, at: now });
    });
    return { organization, key: toView(key), secret: issued.token };
  }

  /** Another organization's key answers exactly like a key that does not exist. */
  private find(caller: Caller, id: string): KeyRecord {
    const key = this.store.getKey(caller.org.id, id);
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

  private audit(caller: Caller, keyId: string, action: AuditAction, details: Record<string, unknown>, at: number): void {
    this.store.appendAudit({ org_id: caller.org.id, key_id: keyId, actor_key_id: caller.key.id, action, details, at });
  }
}
