import { OAuthError } from './errors.js';

/** A token request as RFC 6749 §4.4 and RFC 8707 define it, client credentials resolved from wherever they came. */
export interface TokenRequest {
  grant_type: string | undefined;
  client_id: string | undefined;
  client_secret: string | undefined;
  scope: string | undefined;
  resource: string | undefined;
}

export interface RawTokenRequest {
  contentType: string | undefined;
  body: string;
  /** The Authorization header, if any. */
  authorization: string | undefined;
  /** The URL's query string, without '?'. */
  query: string;
}

const SINGLE = ['grant_type', 'client_id', 'client_secret', 'scope'] as const;

/** RFC 6749 §2.3.1: Basic credentials are each form-urlencoded before being joined with ':'. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function basicCredentials(authorization: string): { id: string; secret: string } {
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization);
  if (!match) throw new OAuthError('invalid_client', 'Authenticate with HTTP Basic (client_id:client_secret) or client_id and client_secret in the body');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const id = colon < 0 ? undefined : formDecode(decoded.slice(0, colon));
  const secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
  if (id === undefined || secret === undefined) throw new OAuthError('invalid_client', 'The Basic credentials are not client_id:client_secret');
  return { id, secret };
}

/**
 * The parameters of a POST to the token endpoint, refusing what RFC 6749 forbids: another content
 * type, a parameter given twice, credentials in the URL, or two ways of authenticating at once.
 */
export function parseTokenRequest(raw: RawTokenRequest): TokenRequest {
  const query = new URLSearchParams(raw.query);
  if (query.has('client_secret') || query.has('client_id') || query.has('grant_type')) {
    throw new OAuthError('invalid_request', 'Send the parameters in the request body, never in the URL');
  }
  const essence = raw.contentType?.split(';', 1)[0]!.trim().toLowerCase();
  if (essence !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(raw.body);
  for (const name of SINGLE) {
    if (form.getAll(name).length > 1) throw new OAuthError('invalid_request', `${name} is given more than once`);
  }
  const resources = form.getAll('resource');
  if (resources.length > 1) throw new OAuthError('invalid_target', 'Ask for one resource per token');
  let client_id = form.get('client_id') ?? undefined;
  let client_secret = form.get('client_secret') ?? undefined;
  if (raw.authorization !== undefined && raw.authorization.trim() !== '') {
    if (client_secret !== undefined) throw new OAuthError('invalid_request', 'Use one client authentication method: HTTP Basic or client_secret in the body');
    const basic = basicCredentials(raw.authorization);
    if (client_id !== undefined && client_id !== basic.id) throw new OAuthError('invalid_request', 'client_id differs from the Basic credentials');
    client_id = basic.id;
    client_secret = basic.secret;
  }
  return {
    grant_type: form.get('grant_type') ?? undefined,
    client_id,
    client_secret,
    scope: form.get('scope') ?? undefined,
    resource: resources[0],
  };
}
