import { isIP } from 'node:net';

/** DISPERSL_BASE_URL is wrong; the message says what it should look like (and never echoes a key). */
export class BaseUrlError extends Error {}

const EXAMPLE = 'http://127.0.0.1:8787/v1';
const TOKEN = /(pk_(?:live|test)_)[0-9A-Za-z]+/g;
const HAS_TOKEN = /pk_(?:live|test)_/;

/** A value as it may be shown back to the user: any key in it cut down to its prefix. */
export function redactUrl(value: string): string {
  return value.replace(TOKEN, '$1…');
}

/**
 * The REST base of remote mode, normalised: http(s), no credentials, query or fragment, no trailing
 * slash. A bare origin gets `/v1`, where `dispersl-mcp serve` answers. The MCP URLs a user may paste
 * by mistake (`…/mcp`, `…/ot/<key>`) are refused: the key belongs in DISPERSL_API_KEY, not in a URL.
 */
export function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new BaseUrlError(`DISPERSL_BASE_URL must be a URL like ${EXAMPLE}, got '${redactUrl(raw)}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BaseUrlError(`DISPERSL_BASE_URL must start with http:// or https://, got '${redactUrl(raw)}'`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new BaseUrlError('DISPERSL_BASE_URL must not carry credentials; put the key in DISPERSL_API_KEY');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new BaseUrlError(`DISPERSL_BASE_URL must have no query or fragment, like ${EXAMPLE}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  if (/\/ot(\/|$)/.test(path) || HAS_TOKEN.test(path) || /\/mcp(\/readonly)?$/.test(path)) {
    throw new BaseUrlError(
      `DISPERSL_BASE_URL is the REST API base (like ${EXAMPLE}), not an MCP endpoint; the key goes in DISPERSL_API_KEY`,
    );
  }
  url.pathname = path === '' ? '/v1' : path;
  return url;
}

/** The base URL as shown in messages: without a trailing slash, exactly as requests are built from it. */
export function displayBaseUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** A host name that can only mean this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  // WHATWG URLs arrive compressed: [0:0:0:0:0:0:0:1] is ::1, ::ffff:127.0.0.1 is ::ffff:7f00:1.
  if (isIP(host) === 6) return host === '::1' || /^::ffff:(7f[0-9a-f]{2}:[0-9a-f]{1,4}|127\.)/.test(host);
  return false;
}
