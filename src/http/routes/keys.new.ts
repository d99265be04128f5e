import { queryInput } from '../query.js';
import { noStore } from '../middleware/security-headers.js';
import { defineRoute } from '../route.js';
import { NewKeyQuery, NewKeyResponse } from '../schemas.js';

const DEFAULT_NAME = 'Generated API key';

export const newKeyRoute = defineRoute({
  method: 'GET',
  path: '/v1/keys/new',
  operationId: 'newKey',
  summary: 'Generate a key like your own',
  description:
    "Creates a key with the calling key's environment and permissions (seed 000). The full token is in publicKey, shown this once.",
  auth: true,
  write: true,
  permission: 'keys:write',
  query: NewKeyQuery,
  status: 200,
  response: NewKeyResponse,
  handle(c, { service }) {
    const { name = DEFAULT_NAME, ...rest } = queryInput(c);
    const { key, secret } = service.generate(c.get('caller'), { name, ...rest });
    noStore(c);
    return c.json({ publicKey: secret, message: 'API key generated successfully', key }, 200);
  },
});
