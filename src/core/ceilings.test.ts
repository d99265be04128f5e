import { describe, expect, it } from 'vitest';
import { type Restrictions, rateLimitWithin, withinCeilings } from './ceilings.js';

const NOW = Date.UTC(2030, 0, 15, 12);
const open: Restrictions = { expires_at: null, allowed_ips: [], rate_limit: null };
const tight: Restrictions = { expires_at: NOW + 600_000, allowed_ips: ['10.0.0.0/8', '2001:db8::/32'], rate_limit: { max: 10, window_ms: 60_000 } };

function paths(result: ReturnType<typeof withinCeilings>): string[] {
  return result.ok ? [] : result.issues.map((i) => i.path);
}

describe('withinCeilings', () => {
  it('lets an unrestricted creator ask for anything, and gives what was not asked for as unrestricted', () => {
    expect(withinCeilings(open, {})).toEqual({ ok: true, restrictions: open });
    const asked = { expires_at: NOW + 1, allowed_ips: ['192.0.2.1'], rate_limit: { max: 5, window_ms: 1_000 } };
    expect(withinCeilings(open, asked)).toEqual({ ok: true, restrictions: asked });
  });

  it("inherits every ceiling of the creator that the request does not mention", () => {
    expect(withinCeilings(tight, {})).toEqual({ ok: true, restrictions: tight });
  });

  it('accepts what fits: an earlier expiry, narrower ranges of the same family, a tighter rate', () => {
    const result = withinCeilings(tight, {
      expires_at: NOW + 60_000,
      allowed_ips: ['10.1.2.3', '10.200.0.0/16', '10.0.0.0/8', '2001:db8:1::/48', '2001:db8::7'],
      rate_limit: { max: 1, window_ms: 60_000 },
    });
    expect(result.ok).toBe(true);
  });

  it('refuses a later expiry, or none at all, naming the field the request used', () => {
    expect(paths(withinCeilings(tight, { expires_at: NOW + 600_001 }))).toEqual(['expires_at']);
    expect(paths(withinCeilings(tight, { expires_at: null }))).toEqual(['expires_at']);
    expect(paths(withinCeilings(tight, { expires_at: NOW + 700_000 }, { expires_at: 'expires_in_seconds' }))).toEqual(['expires_in_seconds']);
  });

  it('refuses an allowlist wider than the creator’s, entry by entry, for IPv4 and IPv6', () => {
    const result = withinCeilings(tight, {
      allowed_ips: ['10.0.0.1', '11.0.0.1', '10.0.0.0/7', '0.0.0.0/0', '2001:db8::/31', '2001:db9::1', '::/0', '::ffff:10.0.0.1'],
    });
    expect(paths(result)).toEqual(['allowed_ips.1', 'allowed_ips.2', 'allowed_ips.3', 'allowed_ips.4', 'allowed_ips.5', 'allowed_ips.6', 'allowed_ips.7']);
    expect(result.ok ? '' : result.issues[0]!.message).toMatch(/11\.0\.0\.1 is not within your key's allowed_ips \(10\.0\.0\.0\/8, 2001:db8::\/32\)/);
  });

  it('refuses an empty allowlist (any address) from a creator that has one', () => {
    expect(paths(withinCeilings(tight, { allowed_ips: [] }))).toEqual(['allowed_ips']);
  });

  it('refuses a looser rate limit, or none at all', () => {
    for (const rate_limit of [null, { max: 11, window_ms: 60_000 }, { max: 10, window_ms: 59_999 }, { max: 2, window_ms: 1_000 }]) {
      expect(paths(withinCeilings(tight, { rate_limit })), JSON.stringify(rate_limit)).toEqual(['rate_limit']);
    }
  });

  it('reports every field that asks for more at once', () => {
    expect(paths(withinCeilings(tight, { expires_at: null, allowed_ips: [], rate_limit: null }))).toEqual(['expires_at', 'allowed_ips', 'rate_limit']);
  });
});

describe('rateLimitWithin', () => {
  it('compares burst and rate, exactly, at the largest values the schema allows', () => {
    expect(rateLimitWithin({ max: 5, window_ms: 120_000 }, { max: 10, window_ms: 60_000 })).toBe(true);
    expect(rateLimitWithin({ max: 1, window_ms: 1_000 }, { max: 100, window_ms: 60_000 })).toBe(true);
    expect(rateLimitWithin({ max: 2, window_ms: 1_000 }, { max: 100, window_ms: 60_000 })).toBe(false);
    const big = { max: 1_000_000_000, window_ms: 86_400_000 };
    expect(rateLimitWithin(big, big)).toBe(true);
    expect(rateLimitWithin({ max: 1_000_000_000, window_ms: 86_399_999 }, big)).toBe(false);
  });
});
