import { describe, expect, it } from 'vitest';
import { rateLimitHeaders } from './ratelimit.js';

describe('rate-limit headers', () => {
  const now = Date.UTC(2030, 0, 15, 12, 20, 0);
  it('describe the hourly window in both the X-RateLimit and the IETF forms', () => {
    const reset = Date.UTC(2030, 0, 15, 13, 0, 0);
    expect(rateLimitHeaders({ limit: 1000, remaining: 998, reset_at: reset, window_ms: 3_600_000 }, now)).toEqual({
      'X-RateLimit-Limit': '1000',
      'X-RateLimit-Remaining': '998',
      'X-RateLimit-Reset': String(reset / 1000),
      'RateLimit-Policy': '"hourly";q=1000;w=3600',
      RateLimit: '"hourly";r=998;t=2400',
    });
  });

  it("name a key's own window as such", () => {
    const headers = rateLimitHeaders({ limit: 5, remaining: 0, reset_at: now + 1_500, window_ms: 60_000 }, now);
    expect(headers['RateLimit-Policy']).toBe('"key";q=5;w=60');
    expect(headers.RateLimit).toBe('"key";r=0;t=2');
  });
});
