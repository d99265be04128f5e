import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';

/**
 * Headers every response carries. `nosniff`: a browser must take our JSON for what its Content-Type
 * says, never sniff it into something it would run or render. Set before the response exists, like
 * X-Request-ID: setting a header on a finished response makes Hono rebuild it.
 */
export const securityHeaders = (): MiddlewareHandler<AppEnv> =>
  async function securityHeaders(c, next) {
    c.header('X-Content-Type-Options', 'nosniff');
    await next();
  };

/** For a public document, the same for everyone: any origin may read it and caches may keep it a while. */
export function cachePublicly(c: Parameters<MiddlewareHandler<AppEnv>>[0]): void {
  c.header('Cache-Control', 'public, max-age=300');
  c.header('Access-Control-Allow-Origin', '*');
}

/** For a response that carries a secret (a new key's token): no cache, shared or private, may keep it. */
export function noStore(c: Parameters<MiddlewareHandler<AppEnv>>[0]): void {
  c.header('Cache-Control', 'no-store');
}

/**
 * For an HTML page of ours (the reveal page, the dashboard): never cached, never framed, isolated
 * from other origins' windows, and loading nothing but what `csp` allows.
 */
export function pageHeaders(c: Context, csp: string, referrerPolicy: 'no-referrer' | 'same-origin'): void {
  c.header('Cache-Control', 'no-store');
  c.header('Content-Security-Policy', csp);
  c.header('Referrer-Policy', referrerPolicy);
  c.header('X-Frame-Options', 'DENY');
  c.header('Cross-Origin-Opener-Policy', 'same-origin');
  c.header('Cross-Origin-Resource-Policy', 'same-origin');
}
