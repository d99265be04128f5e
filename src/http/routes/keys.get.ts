import { KeyView } from '../../core/schemas.js';
import { defineRoute } from '../route.js';

export const getKeyRoute = defineRoute({
  method: 'GET',
  path: '/v1/keys/:id',
  operationId: 'getKey',
  summary: 'Get an API key',
  description: "One key of your organization by id. Another organization's key answers 404, like an unknown id.",
  auth: true,
  permission: 'keys:read',
  status: 200,
  response: KeyView,
  handle(c, { service }) {
    return c.json(service.get(c.get('caller'), { id: c.req.param('id') }), 200);
  },
});
