import { KeyView } from '../../core/schemas.js';
import { defineRoute } from '../route.js';

export const revokeKeyRoute = defineRoute({
  method: 'DELETE',
  path: '/v1/keys/:id',
  operationId: 'revokeKey',
  summary: 'Revoke an API key',
  description:
    'Revokes a key for good; it answers REVOKED_API_KEY from the next request on. The key that authenticates the call cannot revoke itself (409 CANNOT_REVOKE_SELF): rotate it instead.',
  auth: true,
  write: true,
  permission: 'keys:write',
  status: 200,
  response: KeyView,
  handle(c, { service }) {
    return c.json(service.revoke(c.get('caller'), { id: c.req.param('id') }), 200);
  },
});
