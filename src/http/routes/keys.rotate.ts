import { RotatedKey } from '../../core/schemas.js';
import { jsonObjectBody } from '../body.js';
import { noStore } from '../middleware/security-headers.js';
import { defineRoute } from '../route.js';
import { RotateKeyBody } from '../schemas.js';

export const rotateKeyRoute = defineRoute({
  method: 'POST',
  path: '/v1/keys/:id/rotate',
  operationId: 'rotateKey',
  summary: 'Rotate an API key',
  description:
    'Creates a successor with the same settings and a new secret (shown this once). The old key keeps working for grace_period_seconds (default 3600); 0 revokes it at once. The body is optional.',
  auth: true,
  write: true,
  permission: 'keys:write',
  body: RotateKeyBody,
  status: 200,
  response: RotatedKey,
  async handle(c, { service, bodyLimit, maxDepth }) {
    const body = await jsonObjectBody(c, bodyLimit, maxDepth, true);
    const rotated = service.rotate(c.get('caller'), { ...body, id: c.req.param('id') });
    noStore(c);
    return c.json(rotated, 200);
  },
});
