import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DisperslError } from '../../core/errors.js';
import { clientCredentials } from '../../oauth/client-credentials.js';
import { OAuthError } from '../../oauth/errors.js';
import { parseTokenRequest } from '../../oauth/token-request.js';
import { readBody } from '../body.js';
import { clientIp } from '../credential.js';
import { defineRoute } from '../route.js';
import { TokenRequestForm, TokenResponse } from '../schemas.js';
import { TOKEN_PATH } from '../../oauth/metadata.js';

/** A token request is a few short form fields; anything larger is not one. */
const TOKEN_BODY_LIMIT = 16 * 1024;

/**
 * POST /oauth/token (RFC 6749 §4.4): a key trades itself for a short-lived access token.
 * Answers and errors are in OAuth's own JSON form, never cached (§5.1).
 */
export const oauthTokenRoute = defineRoute({
  method: 'POST',
  path: TOKEN_PATH,
  operationId: 'oauthToken',
  summary: 'Get an access token (OAuth 2.0 client credentials)',
  description:
    'Trades a key for a short-lived access token (client_id: the key id, client_secret: its token; in the form or as Basic). Errors use OAuth\'s own JSON form (RFC 6749 §5.2). Issuing is free; each call made with the token is charged to its key.',
  auth: false,
  body: TokenRequestForm,
  bodyRequired: true,
  bodyType: 'form',
  status: 200,
  response: TokenResponse,
  enabled: (deps) => deps.oauth !== undefined,
  async handle(c, { oauth }) {
    c.header('Cache-Control', 'no-store');
    c.header('Pragma', 'no-cache');
    try {
      const body = await readBody(c, TOKEN_BODY_LIMIT);
      const request = parseTokenRequest({
        contentType: c.req.header('content-type'),
        body,
        authorization: c.req.header('authorization'),
        query: new URL(c.req.url).search.slice(1),
      });
      return c.json(await clientCredentials(request, clientIp(c), oauth!), 200);
    } catch (err) {
      let error: OAuthError;
      if (err instanceof OAuthError) error = err;
      else if (err instanceof DisperslError && err.type !== 'INTERNAL_ERROR') error = new OAuthError('invalid_request', err.message);
      else throw err;
      // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
      if (error.status === 401) c.header('WWW-Authenticate', 'Basic realm="dispersl"');
      return c.json(error.toBody(), error.status as ContentfulStatusCode);
    }
  },
});
