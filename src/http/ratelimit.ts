import type { Context } from 'hono';
import { HOUR_MS, type Window } from '../core/limits.js';

/**
 * The headers that tell a client where it stands against its quota: the X-RateLimit-* trio most
 * clients know, and the IETF RateLimit-Policy / RateLimit fields (draft-ietf-httpapi-ratelimit-headers),
 * both describing the window that binds the key (the hourly quota, or the key's own rate_limit).
 */
export function rateLimitHeaders(window: Window, now: number): Record<string, string> {
  const policy = window.window_ms === HOUR_MS ? 'hourly' : 'key';
  const resetIn = Math.max(0, Math.ceil((window.reset_at - now) / 1000));
  return {
    'X-RateLimit-Limit': String(window.limit),
    'X-RateLimit-Remaining': String(window.remaining),
    'X-RateLimit-Reset': String(Math.ceil(window.reset_at / 1000)),
    'RateLimit-Policy': `"${policy}";q=${window.limit};w=${Math.round(window.window_ms / 1000)}`,
    RateLimit: `"${policy}";r=${window.remaining};t=${resetIn}`,
  };
}

/** Sets those headers on a response (nothing when no window is known). */
export function setRateLimitHeaders(c: Context, window: Window | undefined, now: number): void {
  if (window === undefined) return;
  for (const [name, value] of Object.entries(rateLimitHeaders(window, now))) c.header(name, value);
}
