import type { Handler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DisperslError } from '../../core/errors.js';
import { clientCredentials, type ClientCredentialsDeps } from '../../oauth/client-credentials.js';
import { OAuthError } from '../../oauth/errors.js';
import { parseTokenRequest } from '../../oauth/token-request.js';
import { readBody } from '../body.js';
import { clientIp } from '../credential.js';
import type { AppEnv } from '../env.js';

/** A token request is a few short form fields; anything larger is not one. */
const TOKEN_BODY_LIMIT = 16 * 1024;

/**
 * POST /oauth/token (RFC 6749 §4.4, seed 004): a key trades itself for a short-lived access token.
 * Answers and errors are in OAuth's own JSON form, never cached (§5.1).
 */
export const oauthTokenRoute = (deps: ClientCredentialsDeps): Handler<AppEnv> =>
  async function oauthToken(c) {
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
      return c.json(await clientCredentials(request, clientIp(c), deps), 200);
    } catch (err) {
      let error: OAuthError;
      if (err instanceof OAuthError) error = err;
      else if (err instanceof DisperslError && err.type !== 'INTERNAL_ERROR') error = new OAuthError('invalid_request', err.message);
      else throw err;
      // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
      if (error.status === 401) c.header('WWW-Authenticate', 'Basic realm="dispersl"');
      return c.json(error.toBody(), error.status as ContentfulStatusCode);
    }
  };
