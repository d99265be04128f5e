import { Hono, type MiddlewareHandler } from 'hono';
import type { Clock, Gate } from '../core/auth.js';
import type { Logger } from '../core/log.js';
import type { KeyService } from '../core/service.js';
import type { McpDispatcher } from '../mcp/protocol.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_DEPTH } from './body.js';
import type { AppEnv } from './env.js';
import { mcpEndpoint, mcpMethodNotAllowed } from './mcp.js';
import { authenticate } from './middleware/auth.js';
import { bodyLimit } from './middleware/body-limit.js';
import { handleErrors, notFound } from './middleware/errors.js';
import { refuseWrites } from './middleware/read-only.js';
import { requestLog } from './middleware/request-log.js';
import { securityHeaders } from './middleware/security-headers.js';
import { buildOpenApi } from './openapi.js';
import { isLoopbackName } from './origin.js';
import type { Route, RouteDeps } from './route.js';
import { ROUTES } from './routes/index.js';
import type { ClientCredentialsDeps } from '../oauth/client-credentials.js';
import { AUTHORIZATION_SERVER_PATH, AUTHORIZE_PATH, PROTECTED_RESOURCE_PATH, RESOURCE_PATHS, TOKEN_PATH } from '../oauth/metadata.js';
import { resourceMetadata } from './middleware/resource-metadata.js';
import { oauthAuthorizeRoute } from './routes/oauth.authorize.js';
import { oauthTokenRoute } from './routes/oauth.token.js';
import { authorizationServerRoute } from './routes/well-known.authorization-server.js';
import { protectedResourceRoute } from './routes/well-known.protected-resource.js';

export interface AppOptions {
  gate: Gate;
  service: KeyService;
  dispatcher: McpDispatcher;
  logger: Logger;
  version: string;
  clock?: Clock;
  /** Largest request body, in bytes (default 256 KiB). */
  bodyLimit?: number;
  /** Deepest nesting of arrays and objects accepted in a JSON body (default 64). */
  maxDepth?: number;
  /** The address the server binds: on loopback, MCP requests must name a loopback Host. */
  host?: string;
  /** --read-only: the MCP endpoints hide and refuse write tools, and REST write routes answer 403. */
  readOnly?: boolean;
  /** OAuth 2.0 client credentials (POST /oauth/token) and its discovery documents; their base URL is the tokens' issuer. */
  oauth?: ClientCredentialsDeps;
  /** For /healthz: why the database cannot take a write now (logged), or undefined when it can. Without it, /healthz checks nothing. */
  health?: () => { error: string; code?: string } | undefined;
}

const MCP_PATHS = [
  { path: '/mcp', keyFrom: 'header', readOnly: false },
  { path: '/mcp/readonly', keyFrom: 'header', readOnly: true },
  { path: '/ot/:key', keyFrom: 'path', readOnly: false },
  { path: '/ot/:key/readonly', keyFrom: 'path', readOnly: true },
] as const;

/** Each MCP URL answers with a trailing slash too: `/mcp/readonly/` must be read-only, not a 404 a client may work around. */
const MCP_ROUTES = MCP_PATHS.flatMap((endpoint) => [endpoint, { ...endpoint, path: `${endpoint.path}/` }]);

function patternOf(path: string): RegExp {
  return new RegExp(`^${path.replace(/:\w+/g, '[^/]+')}/?$`);
}

/** For answers to a known path asked with a method it does not take. */
function allowedMethods(routes: readonly Route[]): (path: string) => string[] {
  const table = [...routes.map((r) => ({ pattern: patternOf(r.path), method: r.method })), ...MCP_PATHS.map((m) => ({ pattern: patternOf(m.path), method: 'POST' }))];
  return (path) => [...new Set(table.filter((entry) => entry.pattern.test(path)).map((entry) => entry.method))];
}

/** The HTTP app: the REST API under /v1 and MCP over Streamable HTTP, through one gate. Tests drive it with app.request(). */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const { gate, service, dispatcher, logger, version } = options;
  const clock = options.clock ?? Date.now;
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const readOnly = options.readOnly ?? false;
  let openapi: Record<string, unknown> | undefined;
  const deps: RouteDeps = {
    service,
    bodyLimit: limit,
    maxDepth,
    version,
    openapi: () => (openapi ??= buildOpenApi(ROUTES, version)),
    healthy: () => {
      const problem = options.health?.();
      if (problem !== undefined) logger.warn('health check failed: the database cannot be written', problem);
      return problem === undefined;
    },
  };

  const app = new Hono<AppEnv>();
  app.use(securityHeaders());
  app.use(requestLog({ logger }));
  const oauth = options.oauth;
  if (oauth) {
    const baseUrl = () => oauth.tokens.issuer;
    app.use(resourceMetadata({ baseUrl }));
    app.post(TOKEN_PATH, oauthTokenRoute(oauth));
    app.get(AUTHORIZE_PATH, oauthAuthorizeRoute());
    app.get(AUTHORIZATION_SERVER_PATH, authorizationServerRoute({ baseUrl }));
    for (const path of RESOURCE_PATHS) app.get(`${PROTECTED_RESOURCE_PATH}${path}`, protectedResourceRoute({ baseUrl, resourcePath: path }));
  }
  app.onError(handleErrors({ logger }));
  app.notFound(notFound({ allowed: allowedMethods(ROUTES) }));

  const mcpOptions = { gate, service, dispatcher, clock, bodyLimit: limit, maxDepth, loopbackBind: isLoopbackName(options.host ?? '127.0.0.1'), logger };
  for (const endpoint of MCP_ROUTES) {
    app.post(endpoint.path, mcpEndpoint(mcpOptions, { keyFrom: endpoint.keyFrom, readOnly: readOnly || endpoint.readOnly }));
    app.all(endpoint.path, mcpMethodNotAllowed());
  }

  app.use('/v1/*', bodyLimit({ limit }));
  const auth = authenticate({ gate, clock });
  const guard = refuseWrites();
  for (const route of ROUTES) {
    const chain: MiddlewareHandler<AppEnv>[] = [];
    if (route.auth) chain.push(auth);
    if (route.write && readOnly) chain.push(guard);
    const handler: MiddlewareHandler<AppEnv> = async (c) => route.handle(c, deps);
    app.on(route.method, route.path, ...(chain as [MiddlewareHandler<AppEnv>]), handler);
  }
  return app;
}
