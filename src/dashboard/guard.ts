import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Session, Sessions } from '../core/sessions.js';
import { clientIp } from '../http/credential.js';
import { hostAllowed } from '../http/origin.js';
import { pageHeaders } from '../http/middleware/security-headers.js';
import type { AppVariables, NodeBindings } from '../http/env.js';

export interface DashboardEnv {
  Bindings: NodeBindings;
  Variables: AppVariables & { session: Session };
}
export type DashboardContext = Context<DashboardEnv>;

const SESSION_COOKIE = 'dispersl_session';
/** The code of a new key's secret waiting to be shown once (see pages/secret.tsx). */
export const SECRET_COOKIE = 'dispersl_new_secret';

/**
 * No script but our own file, no style but our own sheet, nothing loaded from anywhere else, no
 * framing, forms posting only here. Pages are never cached: each shows one organization's keys.
 */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** `same-origin` referrers: a no-referrer policy would make the browser send `Origin: null` with the forms' POSTs. */
export const dashboardHeaders = (): MiddlewareHandler<DashboardEnv> =>
  async function dashboardHeaders(c, next) {
    pageHeaders(c, CSP, 'same-origin');
    await next();
  };

/** The cookie's attributes: HttpOnly, SameSite=Strict, sent to the dashboard's paths only, Secure when the public URL is https. */
export function cookieOptions(secure: boolean, maxAgeSeconds?: number) {
  return { path: '/dashboard', httpOnly: true, sameSite: 'Strict' as const, secure, ...(maxAgeSeconds !== undefined && { maxAge: maxAgeSeconds }) };
}

export function sessionToken(c: Context): string | undefined {
  return getCookie(c, SESSION_COOKIE);
}

/**
 * Signs the browser in with a key token, ending the session it had (a token planted in it, or the
 * session of a key just rotated): a fresh session token every time. The cookie has no Max-Age: it
 * lives while the browser does, and the server ends the session after 12 idle hours.
 */
export async function signInAs(c: Context, deps: { sessions: Sessions; secure: boolean }, token: string | undefined): Promise<Session> {
  const signed = await deps.sessions.signIn({ token, ip: clientIp(c) });
  await deps.sessions.signOut(sessionToken(c));
  setCookie(c, SESSION_COOKIE, signed.token, cookieOptions(deps.secure));
  return signed.session;
}

/** Forgets the session cookie, and any new secret still waiting to be shown to this browser. */
export function endSession(c: Context, secure: boolean): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(secure));
  deleteCookie(c, SECRET_COOKIE, cookieOptions(secure));
}

/** Every page but sign-in: the session, or a redirect to sign in (saying why, when the key ended it). */
export const signedIn = ({ sessions, secure }: { sessions: Sessions; secure: boolean }): MiddlewareHandler<DashboardEnv> =>
  async function signedIn(c, next) {
    const token = sessionToken(c);
    const found = await sessions.resume(token, { ip: clientIp(c) });
    if (found === undefined || 'ended' in found) {
      if (token !== undefined) endSession(c, secure);
      return c.redirect(found === undefined ? '/dashboard/sign-in' : `/dashboard/sign-in?ended=${found.ended}`, 303);
    }
    c.set('session', found);
    await next();
  };

/**
 * Where the dashboard may be reached from. Bound to loopback, a Host must be a loopback name or the
 * public URL's (a page on a rebound DNS name is refused, as at /mcp). A write comes from a page of
 * this server: its Origin must be this server's (DISPERSL_PUBLIC_URL, or the address the request was
 * made to); a browser always sends Origin with a POST, and one without is refused.
 */
export const sameOrigin = ({ publicUrl, loopbackBind }: { publicUrl: string | undefined; loopbackBind: boolean }): MiddlewareHandler<DashboardEnv> => {
  const publicHost = publicUrl === undefined ? undefined : new URL(publicUrl).host;
  return async function sameOrigin(c, next) {
    const host = c.req.header('host');
    if (host !== publicHost && !hostAllowed(host, loopbackBind)) return c.text('This server answers on its loopback address only.', 403);
    if (c.req.method === 'POST' && c.req.header('origin') !== (publicUrl ?? new URL(c.req.url).origin)) {
      return c.text('This form must be sent from the dashboard itself (cross-origin request refused).', 403);
    }
    await next();
  };
};

export const antiForgery = (): MiddlewareHandler<DashboardEnv> =>
  async function antiForgery(c, next) {
    if (c.req.method !== 'POST') return next();
    const sent = (await c.req.parseBody()).csrf;
    const got = Buffer.from(typeof sent === 'string' ? sent : '');
    const expected = Buffer.from(c.get('session').csrf);
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      return c.text('This form has expired or did not come from the dashboard (anti-forgery token missing or wrong). Reload the page and try again.', 403);
    }
    await next();
  };
