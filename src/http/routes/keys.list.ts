import { ListKeysInput } from '../../core/schemas.js';
import { queryInput } from '../query.js';
import { defineRoute } from '../route.js';
import { RestKeyList } from '../schemas.js';

export const listKeysRoute = defineRoute({
  method: 'GET',
  path: '/v1/keys',
  operationId: 'listKeys',
  summary: 'List API keys',
  description: 'Keys of your organization, newest first, a page at a time. Revoked keys are left out unless include_revoked=true.',
  auth: true,
  permission: 'keys:read',
  query: ListKeysInput,
  status: 200,
  response: RestKeyList,
  handle(c, { service }) {
    const input = queryInput(c, { numbers: ['limit'], booleans: ['include_revoked'] });
    const { keys, next_cursor } = service.list(c.get('caller'), input);
    return c.json({ apiKeys: keys, next_cursor }, 200);
  },
});
