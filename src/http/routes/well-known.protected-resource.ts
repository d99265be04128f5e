import { PROTECTED_RESOURCE_PATH, RESOURCE_PATHS, protectedResourceMetadata } from '../../oauth/metadata.js';
import { cachePublicly } from '../middleware/security-headers.js';
import { type Route, defineRoute } from '../route.js';
import { OAuthMetadata } from '../schemas.js';

/**
 * GET /.well-known/oauth-protected-resource[/mcp|/v1] (RFC 9728): how to get a token for this server.
 * Public and the same for everyone, so any origin may read it and caches may keep it a while.
 */
export const protectedResourceRoutes: readonly Route[] = RESOURCE_PATHS.map((resourcePath) =>
  defineRoute({
    method: 'GET',
    path: `${PROTECTED_RESOURCE_PATH}${resourcePath}`,
    operationId: `protectedResourceMetadata${resourcePath.replace('/', '_')}`,
    summary: `OAuth protected resource metadata (RFC 9728) of ${resourcePath === '' ? 'this server' : resourcePath}`,
    description: 'How to get a token for this resource. Public.',
    auth: false,
    status: 200,
    response: OAuthMetadata,
    enabled: (deps) => deps.oauth !== undefined,
    handle(c, { oauth }) {
      cachePublicly(c);
      return c.json(protectedResourceMetadata(oauth!.tokens.issuer, resourcePath), 200);
    },
  }),
);
