import type { MiddlewareHandler } from 'hono';
import { resourceMetadataParam } from '../../oauth/metadata.js';
import type { AppEnv } from '../env.js';

/**
 * RFC 9728 §5.1: every 401 Bearer challenge names this server's protected resource metadata, so an
 * MCP client that was refused can discover how to get a token. Added on the way out, whichever
 * part of the app (REST, /mcp, /ot) built the challenge.
 */
export const resourceMetadata = ({ baseUrl }: { baseUrl: () => string }): MiddlewareHandler<AppEnv> =>
  async function resourceMetadata(c, next) {
    await next();
    if (c.res.status !== 401) return;
    const challenge = c.res.headers.get('WWW-Authenticate');
    if (challenge === null || !/^Bearer\b/i.test(challenge)) return;
    c.res.headers.set('WWW-Authenticate', `${challenge}, ${resourceMetadataParam(baseUrl())}`);
  };
