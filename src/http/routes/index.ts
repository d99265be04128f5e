import type { Route } from '../route.js';
import { createKeyRoute } from './api-keys.create.js';
import { healthzRoute } from './healthz.get.js';
import { getKeyRoute } from './keys.get.js';
import { listKeysRoute } from './keys.list.js';
import { newKeyRoute } from './keys.new.js';
import { revokeKeyRoute } from './keys.revoke.js';
import { rotateKeyRoute } from './keys.rotate.js';
import { updateKeyRoute } from './keys.update.js';
import { meRoute } from './me.get.js';
import { openapiRoute } from './openapi.get.js';

/** Every REST route. /v1/keys/new comes before /v1/keys/:id, which would match it too. */
export const ROUTES: readonly Route[] = [
  listKeysRoute,
  newKeyRoute,
  createKeyRoute,
  getKeyRoute,
  updateKeyRoute,
  revokeKeyRoute,
  rotateKeyRoute,
  meRoute,
  openapiRoute,
  healthzRoute,
];
