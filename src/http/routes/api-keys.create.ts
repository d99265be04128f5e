import { jsonObjectBody } from '../body.js';
import { noStore } from '../middleware/security-headers.js';
import { defineRoute } from '../route.js';
import { GenerateKeyInput } from '../../core/schemas.js';
import { ApiKeyCreated } from '../schemas.js';

export const createKeyRoute = defineRoute({
  method: 'POST',
  path: '/v1/api-keys',
  operationId: 'createKey',
  summary: 'Create an API key',
  description: 'Creates a key (seed 001). secret_key holds the full token, shown this once: store it now.',
  auth: true,
  write: true,
  permission: 'keys:write',
  body: GenerateKeyInput,
  bodyRequired: true,
  status: 201,
  response: ApiKeyCreated,
  async handle(c, { service, bodyLimit, maxDepth }) {
    const body = await jsonObjectBody(c, bodyLimit, maxDepth);
    const { key, secret } = service.generate(c.get('caller'), body);
    noStore(c);
    return c.json({ ...key, object: 'api_key', secret_key: secret }, 201);
  },
});
