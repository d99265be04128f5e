import type { Caller, Credential } from '../core/auth.js';
import { uncoveredScopes, parseScope } from '../core/access-tokens.js';
import { asDisperslError } from '../core/errors.js';
import { parseToken } from '../core/tokens.js';
import type { AccessTokens, IssuedAccessToken } from './access-tokens.js';
import { OAuthError } from './errors.js';
import type { TokenRequest } from './token-request.js';

export interface ClientCredentialsDeps {
  /** Authenticates a key without charging it (Gate.peek): issuing a token is free, each call made with it is charged. */
  authenticate(credential: Credential): Promise<Caller>;
  tokens: AccessTokens;
}

const FAILED = 'Client authentication failed';

/**
 * RFC 6749 §4.4: a key trades itself for an access token. client_id is the key's id and
 * client_secret its token; the key must pass every check a request with it would (revoked,
 * disabled, expired, IP allowlist), and the token may carry at most the key's permissions.
 */
export async function clientCredentials(request: TokenRequest, ip: string, deps: ClientCredentialsDeps): Promise<IssuedAccessToken> {
  if (request.grant_type === undefined || request.grant_type === '') throw new OAuthError('invalid_request', 'grant_type is required');
  if (request.grant_type !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', 'Only the client_credentials grant is supported');
  }
  const { client_id, client_secret } = request;
  if (!client_id || !client_secret) throw new OAuthError('invalid_client', 'client_id and client_secret are required (HTTP Basic or the request body)');
  // Only a key is a client secret: an access token cannot mint another one.
  if (parseToken(client_secret) === undefined) throw new OAuthError('invalid_client', FAILED);

  let caller: Caller;
  try {
    caller = await deps.authenticate({ token: client_secret, ip });
  } catch (err) {
    const error = asDisperslError(err);
    if (error.type === 'INTERNAL_ERROR') throw new OAuthError('server_error', 'The token could not be issued');
    // Unknown keys say no more than a wrong id would; a known key's own state (revoked, IP) is its holder's to know.
    throw new OAuthError('invalid_client', error.type === 'INVALID_API_KEY' ? FAILED : error.message);
  }
  if (caller.key.id !== client_id) throw new OAuthError('invalid_client', FAILED);

  const scopes = scopesOf(request.scope, caller.key.permissions);
  const audience = deps.tokens.audienceFor(request.resource);
  if (audience === undefined) throw new OAuthError('invalid_target', 'resource must be this server or a path on it, without query, fragment, key or token');
  return deps.tokens.issue(caller.key, scopes, audience);
}

/** The requested scopes, each covered by the key; all of the key's permissions when none are asked for. */
function scopesOf(scope: string | undefined, permissions: readonly string[]): string[] {
  if (scope === undefined || scope.trim() === '') return [...permissions];
  const scopes = parseScope(scope);
  if (scopes === undefined) throw new OAuthError('invalid_scope', 'scope must be permission names separated by single spaces');
  const missing = uncoveredScopes(permissions, scopes);
  if (missing.length > 0) throw new OAuthError('invalid_scope', `The key does not hold ${missing.join(', ')}`);
  return scopes;
}
