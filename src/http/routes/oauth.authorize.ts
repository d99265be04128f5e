import { z } from 'zod';
import { AUTHORIZE_PATH } from '../../oauth/metadata.js';
import { defineRoute } from '../route.js';

/**
 * The authorization endpoint listed in the server metadata. No interactive grant is offered, so every
 * request is refused (RFC 6749 §4.1.2.1); there is no registered redirect URI to send the error to.
 */
export const oauthAuthorizeRoute = defineRoute({
  method: 'GET',
  path: AUTHORIZE_PATH,
  operationId: 'oauthAuthorize',
  summary: 'OAuth authorization endpoint (no interactive grant)',
  description: 'Always answers 400 unsupported_response_type: only the client_credentials grant is offered.',
  auth: false,
  status: 200,
  response: z.object({ error: z.literal('unsupported_response_type'), error_description: z.string() }),
  enabled: (deps) => deps.oauth !== undefined,
  handle(c) {
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        error: 'unsupported_response_type' as const,
        error_description: 'Only the client_credentials grant is offered: POST grant_type=client_credentials to /oauth/token with a key id and its token',
      },
      400,
    );
  },
});
