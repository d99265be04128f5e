import type { Environment, Organization, Plan, RateLimit, Usage } from './model.js';

export const HOUR_MS = 3_600_000;

export interface PlanLimits {
  requests_per_hour: number;
  max_concurrency: number;
}

const PLAN_LIMITS: Record<Plan, PlanLimits> = {
  free: { requests_per_hour: 100, max_concurrency: 2 },
  pro: { requests_per_hour: 1_000, max_concurrency: 10 },
  enterprise: { requests_per_hour: 10_000, max_concurrency: 50 },
};

export function planLimits(org: Pick<Organization, 'plan' | 'requests_per_hour' | 'max_concurrency'>): PlanLimits {
  const base = PLAN_LIMITS[org.plan];
  if (org.plan !== 'enterprise') return base;
  return {
    requests_per_hour: org.requests_per_hour ?? base.requests_per_hour,
    max_concurrency: org.max_concurrency ?? base.max_concurrency,
  };
}

/** Test keys get a tenth of the hourly quota (at least 10) and half the concurrency (at least 1). */
export function keyLimits(org: Organization, environment: Environment): PlanLimits {
  const plan = planLimits(org);
  if (environment === 'live') return plan;
  return {
    requests_per_hour: Math.max(10, Math.floor(plan.requests_per_hour / 10)),
    max_concurrency: Math.max(1, Math.floor(plan.max_concurrency / 2)),
  };
}

/** The state of the window that binds a caller: what response headers and whoami report. */
export interface Window {
  limit: number;
  remaining: number;
  /** Epoch ms at which the window resets. */
  reset_at: number;
  window_ms: number;
}

export type ChargeDecision =
  | { kind: 'allow'; usage: Usage; window: Window; hourly: Window }
  | { kind: 'deny'; window: Window; retry_after_ms: number };

interface FixedWindow {
  start: number;
  count: number;
  limit: number;
  window_ms: number;
}

function currentWindow(now: number, window_ms: number, storedStart: number, storedCount: number, limit: number): FixedWindow {
  const start = now - (now % window_ms);
  return { start, count: storedStart === start ? storedCount : 0, limit, window_ms };
}

function view(w: FixedWindow): Window {
  return { limit: w.limit, remaining: Math.max(0, w.limit - w.count), reset_at: w.start + w.window_ms, window_ms: w.window_ms };
}

/** Of several windows, the one a client should pace itself by: the fewest requests left, then the latest reset. */
function binding(windows: FixedWindow[]): FixedWindow {
  return windows.reduce((a, b) => {
    const ra = a.limit - a.count;
    const rb = b.limit - b.count;
    if (ra !== rb) return ra < rb ? a : b;
    return a.start + a.window_ms >= b.start + b.window_ms ? a : b;
  });
}

function windowsOf(hourly: number, rateLimit: RateLimit | null, usage: Usage, now: number): FixedWindow[] {
  const windows = [currentWindow(now, HOUR_MS, usage.hour_window, usage.hour_count, hourly)];
  if (rateLimit) windows.push(currentWindow(now, rateLimit.window_ms, usage.own_window, usage.own_count, rateLimit.max));
  return windows;
}

/**
 * Charge one request against the hourly quota and, when the key has one, its own rate_limit.
 * Both are fixed windows aligned to the epoch, so every process computes the same window
 * from the clock alone and the persisted counters stay exact across processes and restarts.
 */
export function decideCharge(hourly: number, rateLimit: RateLimit | null, usage: Usage, now: number, cost = 1): ChargeDecision {
  const windows = windowsOf(hourly, rateLimit, usage, now);
  // A cost of 0 checks without charging, and still answers no once a window is spent.
  const full = windows.filter((w) => w.count + Math.max(cost, 1) > w.limit);
  if (full.length > 0) {
    const latest = full.reduce((a, b) => (a.start + a.window_ms >= b.start + b.window_ms ? a : b));
    return { kind: 'deny', window: view(latest), retry_after_ms: latest.start + latest.window_ms - now };
  }
  for (const w of windows) w.count += cost;
  const [hour, own] = windows as [FixedWindow, FixedWindow | undefined];
  return {
    kind: 'allow',
    usage: {
      hour_window: hour.start,
      hour_count: hour.count,
      own_window: own ? own.start : usage.own_window,
      own_count: own ? own.count : usage.own_count,
    },
    window: view(binding(windows)),
    hourly: view(hour),
  };
}

/** The binding window and the hourly quota, without charging anything (tools/list, peeks). */
export function peekWindows(hourly: number, rateLimit: RateLimit | null, usage: Usage, now: number): { window: Window; hourly: Window } {
  const windows = windowsOf(hourly, rateLimit, usage, now);
  return { window: view(binding(windows)), hourly: view(windows[0]!) };
}

/** Seconds a client should wait, as Retry-After wants it: whole seconds, at least one. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
