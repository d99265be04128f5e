import type { Context } from 'hono';
import type { Credential } from '../core/auth.js';
import { parseToken, tokenStart } from '../core/tokens.js';
import { type AppContext, type AppVariables, headerOf, incomingOf } from './env.js';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** The token a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
export function headerToken(c: AppContext): string | undefined {
  const authorization = headerOf(c, 'authorization');
  const bearer = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
  if (bearer !== undefined) return bearer;
  const apiKey = headerOf(c, 'x-api-key')?.trim();
  return apiKey === '' ? undefined : apiKey;
}

/**
 * The client's address: the peer of the TCP connection, or, behind a trusted proxy, the address it
 * forwarded (set by the clientAddress middleware; see ./client-address.ts).
 */
export function clientIp(c: Context): string {
  return (c.get('clientIp') as AppVariables['clientIp'] | undefined) ?? incomingOf(c)?.socket?.remoteAddress ?? '';
}

export function credentialOf(c: AppContext, token: string | undefined = headerToken(c)): Credential {
  const organizationId = headerOf(c, 'x-organization-id')?.trim();
  return { token, ip: clientIp(c), organizationId: organizationId === '' ? undefined : organizationId };
}

/** What a log line may show of a refused credential: the start of a well-formed key, nothing of anything else. */
export function startOf(token: string | undefined): string | undefined {
  return token !== undefined && parseToken(token) !== undefined ? tokenStart(token) : undefined;
}
