import type { Handler } from 'hono';
import { authorizationServerMetadata } from '../../oauth/metadata.js';
import type { AppEnv } from '../env.js';

/** GET /.well-known/oauth-authorization-server (RFC 8414): the token endpoint and the one grant it offers. */
export const authorizationServerRoute = ({ baseUrl }: { baseUrl: () => string }): Handler<AppEnv> =>
  function authorizationServer(c) {
    c.header('Cache-Control', 'public, max-age=300');
    c.header('Access-Control-Allow-Origin', '*');
    return c.json(authorizationServerMetadata(baseUrl()), 200);
  };
