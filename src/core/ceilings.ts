import { BlockList, isIP } from 'node:net';
import type { Issue } from './errors.js';
import type { RateLimit } from './model.js';

/**
 * A key's restrictions are ceilings for the keys it creates or rotates, admin keys included: a key
 * that expires in ten minutes, works from one address and is rate limited must not be able to mint
 * an unlimited, everlasting key usable from anywhere.
 */
export interface Restrictions {
  /** Epoch ms; null: never expires. */
  expires_at: number | null;
  /** Empty: any address. */
  allowed_ips: string[];
  /** null: the plan's limits only. */
  rate_limit: RateLimit | null;
}

/** What a request asks for. undefined: not said, so the creator's ceiling is inherited; null or []: unrestricted. */
export interface RequestedRestrictions {
  expires_at?: number | null | undefined;
  allowed_ips?: readonly string[] | undefined;
  rate_limit?: RateLimit | null | undefined;
}

export type Ceilings = { ok: true; restrictions: Restrictions } | { ok: false; issues: Issue[] };

/** Where a request named its expiry (expires_at or expires_in_seconds), so an issue names that field. */
export interface CeilingPaths {
  expires_at?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

function listed(entries: readonly string[]): string {
  return entries.length <= 5 ? entries.join(', ') : `${entries.slice(0, 5).join(', ')}, … (${entries.length} entries)`;
}

interface Range {
  address: string;
  family: 'ipv4' | 'ipv6';
  bits: number;
}

/** An allowlist entry (already validated as an address or CIDR) as a range. */
function rangeOf(entry: string): Range | undefined {
  const [address, bits] = entry.split('/') as [string, string | undefined];
  const version = isIP(address);
  if (version === 0) return undefined;
  const full = version === 4 ? 32 : 128;
  return { address, family: version === 4 ? 'ipv4' : 'ipv6', bits: bits === undefined ? full : Number(bits) };
}

/**
 * Whether every address `inner` admits is admitted by `outer`. CIDR ranges nest: a range at least as
 * long as another that holds one of its addresses lies wholly inside it. Families are compared as
 * written (v4 within v4, v6 within v6), which may refuse an IPv4-mapped IPv6 spelling, never admit more.
 */
function within(inner: Range, outer: Range): boolean {
  if (inner.family !== outer.family || inner.bits < outer.bits) return false;
  const list = new BlockList();
  list.addSubnet(outer.address, outer.bits, outer.family);
  return list.check(inner.address, inner.family);
}

/** A rate limit no looser than another: no larger burst (max) and no higher rate (max per window). */
export function rateLimitWithin(inner: RateLimit, outer: RateLimit): boolean {
  // BigInt: max (up to 1e9) times window_ms (up to 8.64e7) passes Number's safe range.
  return inner.max <= outer.max && BigInt(inner.max) * BigInt(outer.window_ms) <= BigInt(outer.max) * BigInt(inner.window_ms);
}

/**
 * The restrictions of a key that `creator` creates or rotates: each field asked for must fit within
 * the creator's, and a field not asked for inherits the creator's. Pure: the service calls it from
 * generate (fields of the request) and rotate (the rotated key's own fields, which must still fit).
 */
export function withinCeilings(creator: Restrictions, requested: RequestedRestrictions, paths: CeilingPaths = {}): Ceilings {
  const issues: Issue[] = [];

  let expires_at = requested.expires_at === undefined ? creator.expires_at : requested.expires_at;
  if (creator.expires_at !== null) {
    const path = paths.expires_at ?? 'expires_at';
    if (expires_at === null) {
      issues.push({ path, message: `the new key would never expire, but yours expires at ${iso(creator.expires_at)}; a key you create or rotate cannot outlive your own` });
    } else if (expires_at > creator.expires_at) {
      issues.push({ path, message: `the new key would expire at ${iso(expires_at)}, after your key does (${iso(creator.expires_at)})` });
    }
  }

  const allowed_ips = requested.allowed_ips === undefined ? [...creator.allowed_ips] : [...requested.allowed_ips];
  if (creator.allowed_ips.length > 0) {
    const outer = creator.allowed_ips.map(rangeOf).filter((r): r is Range => r !== undefined);
    if (allowed_ips.length === 0) {
      issues.push({
        path: 'allowed_ips',
        message: `the new key would be usable from any address, but yours is limited to ${listed(creator.allowed_ips)}; a key you create or rotate must stay within your allowed_ips`,
      });
    }
    allowed_ips.forEach((entry, i) => {
      const inner = rangeOf(entry);
      if (inner === undefined || !outer.some((o) => within(inner, o))) {
        issues.push({ path: `allowed_ips.${i}`, message: `${entry} is not within your key's allowed_ips (${listed(creator.allowed_ips)})` });
      }
    });
  }

  const rate_limit = requested.rate_limit === undefined ? creator.rate_limit : requested.rate_limit;
  if (creator.rate_limit !== null) {
    const { max, window_ms } = creator.rate_limit;
    if (rate_limit === null) {
      issues.push({
        path: 'rate_limit',
        message: `the new key would have no rate limit, but yours allows ${max} requests per ${window_ms} ms; a key you create or rotate cannot be looser`,
      });
    } else if (!rateLimitWithin(rate_limit, creator.rate_limit)) {
      issues.push({ path: 'rate_limit', message: `${rate_limit.max} per ${rate_limit.window_ms} ms is looser than your key's ${max} per ${window_ms} ms` });
    }
  }

  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, restrictions: { expires_at, allowed_ips, rate_limit: rate_limit && { ...rate_limit } } };
}
