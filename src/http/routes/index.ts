import type { Route } from '../route.js';
import { healthzRoute } from './healthz.get.js';
import { oauthAuthorizeRoute } from './oauth.authorize.js';
import { oauthTokenRoute } from './oauth.token.js';
import { openapiRoute } from './openapi.get.js';
import { OPERATION_ROUTES } from './operations.js';
import { verifyKeyRoute } from './keys.verify.js';
import { releaseLeaseRoute } from './leases.release.js';
import { authorizationServerRoute } from './well-known.authorization-server.js';
import { revealsPostRoute } from './reveals.post.js';
import { protectedResourceRoutes } from './well-known.protected-resource.js';

/** Static paths before parameterized ones: GET /v1/keys/new is registered before /v1/keys/:id, which would match it too. */
const staticFirst = (a: Route, b: Route) => Number(a.path.includes(':')) - Number(b.path.includes(':'));

/** Every HTTP route but the MCP endpoints. */
export const ROUTES: readonly Route[] = [
  ...[...OPERATION_ROUTES, verifyKeyRoute, releaseLeaseRoute].sort(staticFirst),
  openapiRoute,
  healthzRoute,
  oauthTokenRoute,
  oauthAuthorizeRoute,
  authorizationServerRoute,
  ...protectedResourceRoutes,
  revealsPostRoute,
];
