import type { Handler } from 'hono';
import type { AppEnv } from '../env.js';

/**
 * The authorization endpoint listed in the server metadata. No interactive grant is offered, so every
 * request is refused (RFC 6749 §4.1.2.1); there is no registered redirect URI to send the error to.
 */
export const oauthAuthorizeRoute = (): Handler<AppEnv> =>
  function oauthAuthorize(c) {
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        error: 'unsupported_response_type' as const,
        error_description: 'Only the client_credentials grant is offered: POST grant_type=client_credentials to /oauth/token with a key id and its token',
      },
      400,
    );
  };
