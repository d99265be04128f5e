/** DISPERSL_PUBLIC_URL is wrong; the message says what it should look like. */
export class PublicUrlError extends Error {}

/**
 * The origin clients reach the server at (e.g. https://keys.example.com behind a proxy): the access
 * tokens' issuer and audience, and the base of the discovery documents. An origin only, since the
 * server answers at the root of it (/.well-known/…, /oauth/token, /mcp, /v1).
 */
export function parsePublicUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new PublicUrlError(`DISPERSL_PUBLIC_URL must be a URL like https://keys.example.com, got '${raw.slice(0, 100)}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PublicUrlError('DISPERSL_PUBLIC_URL must start with http:// or https://');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/') {
    throw new PublicUrlError(`DISPERSL_PUBLIC_URL must be an origin only, like https://keys.example.com (no path, query or credentials)`);
  }
  return url.origin;
}
