import { PERMISSIONS } from '../core/model.js';

/** The scopes this server checks; keys may hold other permission strings, which tokens can carry too. */
export const SCOPES_SUPPORTED: readonly string[] = [PERMISSIONS.read, PERMISSIONS.write, PERMISSIONS.admin];

export const TOKEN_PATH = '/oauth/token';
export const AUTHORIZE_PATH = '/oauth/authorize';
export const PROTECTED_RESOURCE_PATH = '/.well-known/oauth-protected-resource';
export const AUTHORIZATION_SERVER_PATH = '/.well-known/oauth-authorization-server';

/** The resources with a metadata document of their own: RFC 9728 §3.1 inserts the well-known path before the resource's path. */
export const RESOURCE_PATHS: readonly string[] = ['', '/mcp', '/v1'];

/** RFC 9728 protected resource metadata for `<base><resourcePath>` (the whole server when the path is empty). */
export function protectedResourceMetadata(base: string, resourcePath: string): Record<string, unknown> {
  return {
    resource: `${base}${resourcePath}`,
    authorization_servers: [base],
    bearer_methods_supported: ['header'],
    scopes_supported: SCOPES_SUPPORTED,
    resource_name: resourcePath === '/mcp' ? 'dispersl-mcp MCP server' : resourcePath === '/v1' ? 'dispersl-mcp REST API' : 'dispersl-mcp',
    resource_documentation: 'https://www.npmjs.com/package/dispersl-mcp',
  };
}

/**
 * RFC 8414 authorization server metadata. Only client_credentials is granted. An authorization
 * endpoint is listed (answering unsupported_response_type) because widely used MCP clients refuse
 * metadata without one, although RFC 8414 lets a server without interactive grants leave it out.
 */
export function authorizationServerMetadata(base: string): Record<string, unknown> {
  return {
    issuer: base,
    token_endpoint: `${base}${TOKEN_PATH}`,
    authorization_endpoint: `${base}${AUTHORIZE_PATH}`,
    grant_types_supported: ['client_credentials'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: SCOPES_SUPPORTED,
    service_documentation: 'https://www.npmjs.com/package/dispersl-mcp',
  };
}

/** The WWW-Authenticate parameter that points a client at the metadata (RFC 9728 §5.1). */
export function resourceMetadataParam(base: string): string {
  return `resource_metadata="${base}${PROTECTED_RESOURCE_PATH}"`;
}
