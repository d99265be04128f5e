import type { Handler } from 'hono';
import { protectedResourceMetadata } from '../../oauth/metadata.js';
import type { AppEnv } from '../env.js';

/**
 * GET /.well-known/oauth-protected-resource[/mcp|/v1] (RFC 9728): how to get a token for this server.
 * Public and the same for everyone, so any origin may read it and caches may keep it a while.
 */
export const protectedResourceRoute = ({ baseUrl, resourcePath }: { baseUrl: () => string; resourcePath: string }): Handler<AppEnv> =>
  function protectedResource(c) {
    c.header('Cache-Control', 'public, max-age=300');
    c.header('Access-Control-Allow-Origin', '*');
    return c.json(protectedResourceMetadata(baseUrl(), resourcePath), 200);
  };
