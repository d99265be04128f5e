import { Hono, type MiddlewareHandler } from 'hono';
import type { Clock, Gate } from '../core/auth.js';
import type { Logger } from '../core/log.js';
import type { KeyService } from '../core/service.js';
import { ModernDispatcher } from '../mcp/modern.js';
import type { McpDispatcher } from '../mcp/protocol.js';
import type { RequestStates } from '../mcp/request-state.js';
import type { Reveals } from '../core/reveals.js';
import { revealPages } from './reveal-page.js';
import type { Sessions } from '../core/sessions.js';
import { dashboardApp } from '../dashboard/app.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_DEPTH } from './body.js';
import type { AppEnv } from './env.js';
import { mcpEndpoint, mcpMethodNotAllowed } from './mcp.js';
import { authenticate } from './middleware/auth.js';
import { bodyLimit } from './middleware/body-limit.js';
import { handleErrors, notFound } from './middleware/errors.js';
import { refuseWrites } from './middleware/read-only.js';
import { requestLog } from './middleware/request-log.js';
import { TrustedProxies, clientAddress } from './client-address.js';
import { securityHeaders } from './middleware/security-headers.js';
import { buildOpenApi } from './openapi.js';
import { isLoopbackName } from './origin.js';
import type { Route, RouteDeps } from './route.js';
import { ROUTES } from './routes/index.js';
import type { ClientCredentialsDeps } from '../oauth/client-credentials.js';
import { resourceMetadata } from './middleware/resource-metadata.js';
import { mcpOrigin } from './middleware/mcp-origin.js';

export interface AppOptions {
  gate: Gate;
  service: KeyService;
  dispatcher: McpDispatcher;
  /** Seals 2026-07-28 requestStates, with a secret every process on the database shares. */
  requestStates?: RequestStates;
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
  health?: () => Promise<{ error: string; code?: string } | undefined>;
  /** Secret delivery by reveal: the one-time pages (/reveal/<code>) and remote mode's deposits (POST /v1/reveals). */
  reveals?: { reveals: Reveals; url(code: string): string };
  /** DISPERSL_TRUSTED_PROXIES: proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client. */
  trustedProxies?: readonly string[];
  /** The web dashboard at /dashboard (and / redirecting there): its sessions, and where its new secrets wait to be shown once. */
  dashboard?: { sessions: Sessions; reveals: Reveals; publicUrl: string | undefined; usageDays: number };
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

const METHOD_ORDER = ['GET', 'POST', 'PATCH', 'DELETE'] as const;

/** For answers to a known path asked with a method it does not take. */
function allowedMethods(routes: readonly Route[]): (path: string) => string[] {
  const table = [...routes.map((r) => ({ pattern: patternOf(r.path), method: r.method })), ...MCP_PATHS.map((m) => ({ pattern: patternOf(m.path), method: 'POST' }))];
  return (path) => METHOD_ORDER.filter((method) => table.some((entry) => entry.method === method && entry.pattern.test(path)));
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
    gate,
    bodyLimit: limit,
    maxDepth,
    version,
    openapi: () => (openapi ??= buildOpenApi(routes, version)),
    oauth: options.oauth,
    healthy: async () => {
      const problem = await options.health?.();
      if (problem !== undefined) logger.warn('health check failed: the database cannot be written', problem);
      return problem === undefined;
    },
    reveals: options.reveals,
  };
  const routes = ROUTES.filter((route) => route.enabled?.(deps) ?? true);

  const app = new Hono<AppEnv>();
  if (options.trustedProxies?.length) app.use(clientAddress(new TrustedProxies(options.trustedProxies)));
  app.use(securityHeaders());
  app.use(requestLog({ logger }));
  const oauth = options.oauth;
  if (oauth) app.use(resourceMetadata({ baseUrl: () => oauth.tokens.issuer }));
  app.onError(handleErrors({ logger }));
  app.notFound(notFound({ allowed: allowedMethods(routes) }));

  const modern = new ModernDispatcher({ dispatcher, states: options.requestStates, logger });
  const mcpOptions = { gate, service, dispatcher, modern, clock, bodyLimit: limit, maxDepth, logger };
  const loopbackBind = isLoopbackName(options.host ?? '127.0.0.1');
  const origin = mcpOrigin({ loopbackBind });
  for (const endpoint of MCP_ROUTES) {
    app.post(endpoint.path, origin, mcpEndpoint(mcpOptions, { keyFrom: endpoint.keyFrom, readOnly: readOnly || endpoint.readOnly }));
    app.all(endpoint.path, mcpMethodNotAllowed());
  }

  if (options.reveals) {
    const pages = revealPages({ reveals: options.reveals.reveals, clock });
    app.get('/reveal/:code', pages.show);
    app.post('/reveal/:code', pages.take);
  }

  if (options.dashboard) {
    const { publicUrl } = options.dashboard;
    const secure = publicUrl?.startsWith('https:') ?? false;
    app.get('/dashboard/', (c) => c.redirect('/dashboard', 301));
    app.route('/dashboard', dashboardApp({ ...options.dashboard, service, readOnly, clock, logger, secure, loopbackBind }));
    app.get('/', (c) => c.redirect('/dashboard', 302));
  }

  app.use('/v1/*', bodyLimit({ limit }));
  const auth = authenticate({ gate, clock });
  const guard = refuseWrites();
  for (const route of routes) {
    const chain: MiddlewareHandler<AppEnv>[] = [];
    if (route.auth && route.charged !== false) chain.push(auth);
    if (route.write && readOnly) chain.push(guard);
    const handler: MiddlewareHandler<AppEnv> = async (c) => route.handle(c, deps);
    app.on(route.method, route.path, ...(chain as [MiddlewareHandler<AppEnv>]), handler);
  }
  return app;
}
