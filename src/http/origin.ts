/**
 * DNS-rebinding and cross-site protection for the MCP endpoints. A web page can make a browser
 * POST to http://127.0.0.1:8787/mcp; the browser then sends that page's Origin, and, when the page
 * reached us through a rebound DNS name, that name as Host. Bound to loopback, only loopback
 * names are accepted as Host; an Origin must be loopback or the server's own.
 */

function unbracket(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

export function isLoopbackName(hostname: string): boolean {
  const name = unbracket(hostname.toLowerCase());
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** The host name of a Host header value, without its port. */
export function hostnameOf(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end === -1 ? value : value.slice(0, end + 1);
  }
  const colon = value.indexOf(':');
  return colon === -1 ? value : value.slice(0, colon);
}

/** Requests without Host (HTTP/1.0 tools) pass: browsers always send one. */
export function hostAllowed(host: string | undefined, loopbackBind: boolean): boolean {
  if (!loopbackBind || host === undefined) return true;
  return isLoopbackName(hostnameOf(host));
}

/** No Origin (non-browser clients) passes; a browser's must be loopback or the server's own (its Host). */
export function originAllowed(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // includes the opaque origin "null"
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (isLoopbackName(url.hostname)) return true;
  return host !== undefined && url.host === host.trim().toLowerCase();
}
