import { GetKeyInput, KeyView } from '../../core/schemas.js';
import { defineTool } from '../tool.js';

export const getKey = defineTool({
  name: 'get_key',
  title: 'Get an API key',
  description:
    'Show one API key by its id (key_…): name, environment, permissions, allowed IPs, expiry, rate limit, enabled/revoked state, last use, and the keys it was rotated from or to. The secret itself is never shown again after creation. Needs keys:read.',
  input: GetKeyInput,
  output: KeyView,
  annotations: { readOnlyHint: true, openWorldHint: false },
  call: (api, args) => api.getKey(args),
});
