import type { MiddlewareHandler } from 'hono';
import { type AppEnv, headerOf } from '../env.js';
import { RPC, rpcFailure } from '../mcp.js';
import { hostAllowed, originAllowed } from '../origin.js';

/**
 * DNS-rebinding and cross-site protection in front of the MCP endpoints (see ../origin.ts): a Host
 * that is not a loopback name on a loopback-bound server, or a foreign Origin, is refused before the
 * request reaches the endpoint, answered as JSON-RPC.
 */
export const mcpOrigin = ({ loopbackBind }: { loopbackBind: boolean }): MiddlewareHandler<AppEnv> =>
  async function mcpOrigin(c, next) {
    const host = headerOf(c, 'host');
    if (!hostAllowed(host, loopbackBind)) {
      return rpcFailure(c, 403, RPC.REFUSED, 'Forbidden: Host must be a loopback name when the server is bound to loopback');
    }
    if (!originAllowed(headerOf(c, 'origin'), host)) return rpcFailure(c, 403, RPC.REFUSED, 'Forbidden: requests from this Origin are not allowed');
    await next();
  };
