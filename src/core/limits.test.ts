import { describe, expect, it } from 'vitest';
import { NOON } from '../testing/fixtures.js';
import { HOUR_MS, type Window, decideCharge, keyLimits, peekWindows, planLimits, retryAfterSeconds } from './limits.js';
import { EMPTY_USAGE, type Organization, type RateLimit, type Usage } from './model.js';

const org = (plan: Organization['plan'], custom: Partial<Organization> = {}): Organization => ({
  id: 'org_x',
  name: 'x',
  plan,
  requests_per_hour: null,
  max_concurrency: null,
  created_at: 0,
  ...custom,
});

/** Charges requests one after another, as the gate persists them; returns the allowed count and the first denial. */
function chargeUntilDenied(hourly: number, rateLimit: RateLimit | null, at: number, usage: Usage = EMPTY_USAGE, cap = 100_000) {
  let allowed = 0;
  for (let i = 0; i < cap; i++) {
    const decision = decideCharge(hourly, rateLimit, usage, at);
    if (decision.kind === 'deny') return { allowed, denial: decision, usage };
    usage = decision.usage;
    allowed++;
  }
  throw new Error('never denied');
}

describe('planLimits', () => {
  it('gives each plan the limits of the contract', () => {
    expect(planLimits(org('free'))).toEqual({ requests_per_hour: 100, max_concurrency: 2 });
    expect(planLimits(org('pro'))).toEqual({ requests_per_hour: 1_000, max_concurrency: 10 });
    expect(planLimits(org('enterprise'))).toEqual({ requests_per_hour: 10_000, max_concurrency: 50 });
  });

  it("uses an enterprise organization's custom limits, each falling back to the default", () => {
    expect(planLimits(org('enterprise', { requests_per_hour: 250_000, max_concurrency: 400 }))).toEqual({ requests_per_hour: 250_000, max_concurrency: 400 });
    expect(planLimits(org('enterprise', { requests_per_hour: 60 }))).toEqual({ requests_per_hour: 60, max_concurrency: 50 });
    expect(planLimits(org('enterprise', { max_concurrency: 3 }))).toEqual({ requests_per_hour: 10_000, max_concurrency: 3 });
  });

  it('ignores custom limits on plans that have none', () => {
    expect(planLimits(org('free', { requests_per_hour: 5_000, max_concurrency: 99 }))).toEqual({ requests_per_hour: 100, max_concurrency: 2 });
    expect(planLimits(org('pro', { requests_per_hour: 5_000 }))).toEqual({ requests_per_hour: 1_000, max_concurrency: 10 });
  });
});

describe('keyLimits', () => {
  it('gives live keys the plan limits', () => {
    expect(keyLimits(org('pro'), 'live')).toEqual({ requests_per_hour: 1_000, max_concurrency: 10 });
  });

  it('gives test keys a tenth of the quota and half the concurrency', () => {
    expect(keyLimits(org('free'), 'test')).toEqual({ requests_per_hour: 10, max_concurrency: 1 });
    expect(keyLimits(org('pro'), 'test')).toEqual({ requests_per_hour: 100, max_concurrency: 5 });
    expect(keyLimits(org('enterprise'), 'test')).toEqual({ requests_per_hour: 1_000, max_concurrency: 25 });
    expect(keyLimits(org('enterprise', { requests_per_hour: 5_005, max_concurrency: 7 }), 'test')).toEqual({ requests_per_hour: 500, max_concurrency: 3 });
  });

  it('never gives a test key less than 10 requests an hour or 1 concurrent request', () => {
    expect(keyLimits(org('enterprise', { requests_per_hour: 50, max_concurrency: 1 }), 'test')).toEqual({ requests_per_hour: 10, max_concurrency: 1 });
    expect(keyLimits(org('enterprise', { requests_per_hour: 3 }), 'test').requests_per_hour).toBe(10);
  });
});

describe('decideCharge: the hourly quota', () => {
  const at = NOON + 20 * 60_000; // 12:20, in the window 12:00–13:00

  it('allows exactly the quota, then denies with retry_after until the end of the hour', () => {
    const { allowed, denial } = chargeUntilDenied(100, null, at);
    expect(allowed).toBe(100);
    expect(denial.kind).toBe('deny');
    expect(denial.retry_after_ms).toBe(40 * 60_000);
    expect(retryAfterSeconds(denial.retry_after_ms)).toBe(2_400);
    expect(denial.window).toEqual({ limit: 100, remaining: 0, reset_at: NOON + HOUR_MS, window_ms: HOUR_MS });
  });

  it('counts down remaining with each allowed request', () => {
    let usage = EMPTY_USAGE;
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = decideCharge(10, null, usage, at);
      if (decision.kind !== 'allow') throw new Error('denied');
      seen.push(decision.window.remaining);
      usage = decision.usage;
    }
    expect(seen).toEqual([9, 8, 7]);
    expect(usage).toMatchObject({ hour_window: NOON, hour_count: 3 });
  });

  it('denies until the last millisecond of the window and allows again at the next one', () => {
    const { usage } = chargeUntilDenied(10, null, at);
    const lastMs = decideCharge(10, null, usage, NOON + HOUR_MS - 1);
    expect(lastMs).toMatchObject({ kind: 'deny', retry_after_ms: 1 });
    const next = decideCharge(10, null, usage, NOON + HOUR_MS);
    expect(next.kind).toBe('allow');
    if (next.kind === 'allow') {
      expect(next.usage).toMatchObject({ hour_window: NOON + HOUR_MS, hour_count: 1 });
      expect(next.window.remaining).toBe(9);
    }
  });

  it('starts from zero when the stored counter belongs to an older window', () => {
    const stale: Usage = { hour_window: NOON - HOUR_MS, hour_count: 10, own_window: 0, own_count: 0 };
    expect(chargeUntilDenied(10, null, at, stale).allowed).toBe(10);
  });

  it('asks to wait at least one whole second', () => {
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
  });
});

describe("decideCharge: a key's own rate_limit on top of the plan", () => {
  const own: RateLimit = { max: 3, window_ms: 10_000 };

  it('denies at the own limit with retry_after until the end of its window, then allows again', () => {
    const at = NOON + 4_000; // own window 12:00:00–12:00:10
    const { allowed, denial, usage } = chargeUntilDenied(100, own, at);
    expect(allowed).toBe(3);
    expect(denial.retry_after_ms).toBe(6_000);
    expect(denial.window).toEqual({ limit: 3, remaining: 0, reset_at: NOON + 10_000, window_ms: 10_000 });
    const later = decideCharge(100, own, usage, NOON + 10_000);
    expect(later.kind).toBe('allow');
    if (later.kind === 'allow') expect(later.usage).toMatchObject({ hour_count: 4, own_count: 1, own_window: NOON + 10_000 });
  });

  it('still stops at the hourly quota when the own limit is looser', () => {
    let usage = EMPTY_USAGE;
    let allowed = 0;
    // 30 own windows of 10 s, 3 requests each: 90 asked, the hourly quota of 20 binds.
    for (let w = 0; w < 30; w++) {
      const result = chargeUntilDenied(20, own, NOON + w * 10_000, usage);
      allowed += result.allowed;
      usage = result.usage;
    }
    expect(allowed).toBe(20);
    const denial = decideCharge(20, own, usage, NOON + 300_000 + 1);
    expect(denial).toMatchObject({ kind: 'deny', retry_after_ms: HOUR_MS - 300_001, window: { limit: 20, reset_at: NOON + HOUR_MS } });
  });

  it('asks to wait for the later window when both are full', () => {
    const full: Usage = { hour_window: NOON, hour_count: 20, own_window: NOON, own_count: 3 };
    expect(decideCharge(20, own, full, NOON + 1_000)).toMatchObject({ kind: 'deny', retry_after_ms: HOUR_MS - 1_000 });
  });
});

describe('the binding window', () => {
  it('is the window with the fewest requests left', () => {
    const own: RateLimit = { max: 5, window_ms: 60_000 };
    const w: Window = peekWindows(100, own, { hour_window: NOON, hour_count: 10, own_window: NOON, own_count: 2 }, NOON + 1_000).window;
    expect(w).toEqual({ limit: 5, remaining: 3, reset_at: NOON + 60_000, window_ms: 60_000 });
    const tight = peekWindows(100, own, { hour_window: NOON, hour_count: 98, own_window: NOON, own_count: 2 }, NOON + 1_000).window;
    expect(tight).toEqual({ limit: 100, remaining: 2, reset_at: NOON + HOUR_MS, window_ms: HOUR_MS });
  });

  it('is the later-resetting window on a tie', () => {
    const own: RateLimit = { max: 5, window_ms: 60_000 };
    const w = peekWindows(100, own, { hour_window: NOON, hour_count: 95, own_window: NOON, own_count: 0 }, NOON).window;
    expect(w.window_ms).toBe(HOUR_MS);
  });

  it('is what an allowed charge reports, after counting that charge', () => {
    const decision = decideCharge(10, { max: 2, window_ms: 1_000 }, EMPTY_USAGE, NOON);
    expect(decision).toMatchObject({ kind: 'allow', window: { limit: 2, remaining: 1, window_ms: 1_000 } });
  });

  it('peeks without charging: a fresh key shows its whole quota', () => {
    expect(peekWindows(10, null, EMPTY_USAGE, NOON + 5).window).toEqual({ limit: 10, remaining: 10, reset_at: NOON + HOUR_MS, window_ms: HOUR_MS });
  });
});
