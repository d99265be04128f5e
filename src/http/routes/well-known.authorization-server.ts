import { AUTHORIZATION_SERVER_PATH, authorizationServerMetadata } from '../../oauth/metadata.js';
import { cachePublicly } from '../middleware/security-headers.js';
import { defineRoute } from '../route.js';
import { OAuthMetadata } from '../schemas.js';

/** GET /.well-known/oauth-authorization-server (RFC 8414): the token endpoint and the one grant it offers. */
export const authorizationServerRoute = defineRoute({
  method: 'GET',
  path: AUTHORIZATION_SERVER_PATH,
  operationId: 'authorizationServerMetadata',
  summary: 'OAuth authorization server metadata (RFC 8414)',
  description: 'The token endpoint and the one grant this server offers. Public.',
  auth: false,
  status: 200,
  response: OAuthMetadata,
  enabled: (deps) => deps.oauth !== undefined,
  handle(c, { oauth }) {
    cachePublicly(c);
    return c.json(authorizationServerMetadata(oauth!.tokens.issuer), 200);
  },
});
