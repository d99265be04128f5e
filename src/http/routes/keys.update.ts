import { KeyView } from '../../core/schemas.js';
import { jsonObjectBody } from '../body.js';
import { defineRoute } from '../route.js';
import { UpdateKeyBody } from '../schemas.js';

export const updateKeyRoute = defineRoute({
  method: 'PATCH',
  path: '/v1/keys/:id',
  operationId: 'updateKey',
  summary: 'Rename, disable or enable an API key',
  description: 'Changes name and/or enabled. Disabling takes effect on the very next request, in every process.',
  auth: true,
  write: true,
  permission: 'keys:write',
  body: UpdateKeyBody,
  bodyRequired: true,
  status: 200,
  response: KeyView,
  async handle(c, { service, bodyLimit, maxDepth }) {
    const body = await jsonObjectBody(c, bodyLimit, maxDepth);
    return c.json(service.update(c.get('caller'), { ...body, id: c.req.param('id') }), 200);
  },
});
