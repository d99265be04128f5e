import { generateToken } from '../../src/core/tokens.js';
import type { Route } from '../../src/http/route.js';
import { type Answer, type AppWorld, makeKey } from './http-app.js';

/**
 * The refusals every authenticated route must answer, generated for each route of the app (and
 * each MCP endpoint) so a new route gets them all without a line of test code: 401 for each way a
 * credential fails, 403 for the organization header, the IP allowlist and missing permissions,
 * 404 for another organization's key and an unknown one.
 */

/** How the credential is presented. */
export type Scheme = 'bearer' | 'x-api-key' | 'basic' | 'none';

export interface Arranged {
  token?: string;
  scheme: Scheme;
  headers?: Record<string, string>;
  /** The key id the request names, where the route takes one. */
  id?: string;
}

export interface AuthCase {
  name: string;
  status: 401 | 403 | 404;
  type: string;
  /** Refused before the request is charged. */
  free: boolean;
  applies(route: Route): boolean;
  arrange(w: AppWorld, target: string): Promise<Arranged>;
}

const always = () => true;
const namesKey = (route: Route) => route.path.startsWith('/v1/keys/:id');

function mistype(token: string): string {
  const last = token.at(-1) === 'a' ? 'b' : 'a';
  return token.slice(0, -1) + last;
}

export const AUTH_CASES: readonly AuthCase[] = [
  { name: 'no credential', status: 401, type: 'MISSING_API_KEY', free: true, applies: always, arrange: async () => ({ scheme: 'none' }) },
  {
    name: 'a non-Bearer Authorization header',
    status: 401,
    type: 'MISSING_API_KEY',
    free: true,
    applies: always,
    arrange: async (w) => ({ scheme: 'basic', token: w.tenant.adminSecret }),
  },
  {
    name: 'a mistyped key (its checksum fails)',
    status: 401,
    type: 'INVALID_API_KEY',
    free: true,
    applies: always,
    arrange: async (w) => ({ scheme: 'bearer', token: mistype(w.tenant.adminSecret) }),
  },
  {
    name: 'a well-formed key that does not exist',
    status: 401,
    type: 'INVALID_API_KEY',
    free: true,
    applies: always,
    arrange: async () => ({ scheme: 'x-api-key', token: generateToken('live').token }),
  },
  {
    name: 'a revoked key',
    status: 401,
    type: 'REVOKED_API_KEY',
    free: true,
    applies: always,
    arrange: async (w) => {
      const key = await makeKey(w, { permissions: ['admin'] });
      w.service.revoke(await w.callerOf(w.tenant.adminSecret), { id: key.id });
      return { scheme: 'bearer', token: key.secret };
    },
  },
  {
    name: 'a disabled key',
    status: 401,
    type: 'DISABLED_API_KEY',
    free: true,
    applies: always,
    arrange: async (w) => {
      const key = await makeKey(w, { permissions: ['admin'] });
      w.service.update(await w.callerOf(w.tenant.adminSecret), { id: key.id, enabled: false });
      return { scheme: 'bearer', token: key.secret };
    },
  },
  {
    name: 'an expired key',
    status: 401,
    type: 'EXPIRED_API_KEY',
    free: true,
    applies: always,
    arrange: async (w) => {
      const key = await makeKey(w, { permissions: ['admin'], expires_in_seconds: 60 });
      w.clock.advance(61_000);
      return { scheme: 'bearer', token: key.secret };
    },
  },
  {
    name: "another organization's X-Organization-ID",
    status: 403,
    type: 'ORGANIZATION_FORBIDDEN',
    free: true,
    applies: always,
    arrange: async (w) => ({ scheme: 'x-api-key', token: w.tenant.adminSecret, headers: { 'x-organization-id': (await w.addTenant({ name: 'Other' })).org.id } }),
  },
  {
    name: 'a key used from outside its IP allowlist',
    status: 403,
    type: 'IP_NOT_ALLOWED',
    free: true,
    applies: always,
    arrange: async (w) => ({ scheme: 'bearer', token: (await makeKey(w, { permissions: ['admin'], allowed_ips: ['10.0.0.0/8', '2001:db8::/32'] })).secret }),
  },
  {
    name: 'a key without the permission the route needs',
    status: 403,
    type: 'INSUFFICIENT_PERMISSIONS',
    free: false,
    applies: (route) => typeof route.permission === 'string',
    arrange: async (w) => ({ scheme: 'bearer', token: (await makeKey(w, { permissions: ['nodes.read.own'] })).secret }),
  },
  {
    name: "another organization's key id",
    status: 404,
    type: 'NOT_FOUND',
    free: false,
    applies: namesKey,
    arrange: async (w) => {
      const other = await w.addTenant({ name: 'Other' });
      return { scheme: 'bearer', token: w.tenant.adminSecret, id: (await makeKey(w, {}, other.adminSecret)).id };
    },
  },
  {
    name: 'an unknown key id',
    status: 404,
    type: 'NOT_FOUND',
    free: false,
    applies: namesKey,
    arrange: async (w) => ({ scheme: 'bearer', token: w.tenant.adminSecret, id: 'key_DoesNotExist0000000' }),
  },
];

export function casesFor(route: Route): AuthCase[] {
  return AUTH_CASES.filter((c) => c.applies(route));
}

/** The credential headers of an arranged case. */
export function credentialHeaders({ scheme, token, headers = {} }: Arranged): Record<string, string> {
  const out = { ...headers };
  if (token !== undefined && scheme === 'bearer') out.authorization = `Bearer ${token}`;
  if (token !== undefined && scheme === 'x-api-key') out['x-api-key'] = token;
  if (token !== undefined && scheme === 'basic') out.authorization = `Basic ${Buffer.from(`user:${token}`).toString('base64')}`;
  return out;
}

/** A valid request of each route (by operationId), so only the credential decides the outcome. */
const EXAMPLES: Record<string, { query?: string; body?: unknown }> = {
  listKeys: { query: '?limit=5' },
  newKey: { query: '?name=made+by+GET' },
  createKey: { body: { name: 'made by POST', permissions: ['keys:read'] } },
  getKey: {},
  updateKey: { body: { name: 'renamed' } },
  revokeKey: {},
  rotateKey: { body: { grace_period_seconds: 60 } },
  createReveal: { body: { secret: 'pk_live_00000000000000000000000000000000000000' } },
  whoami: {},
  openapi: {},
  healthz: {},
  verifyKey: { body: { key: 'pk_live_000000000000000000000000000000' } },
  releaseLease: {},
  getUsage: { query: '?granularity=day' },
  listEvents: { query: '?limit=5' },
};

/** Sends a valid request of `route` naming key `id`, with the given headers. */
export function send(w: AppWorld, route: Route, id: string, headers: Record<string, string>): Promise<Answer> {
  const example = EXAMPLES[route.operationId];
  if (example === undefined) throw new Error(`no example request for ${route.operationId}: add one to test/helpers/http-cases.ts`);
  const path = route.path.replace(':id', id) + (example.query ?? '');
  return w.ask(route.method, path, { headers, body: example.body });
}
