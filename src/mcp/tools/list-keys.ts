import { KeyList, ListKeysInput } from '../../core/schemas.js';
import { defineTool } from '../tool.js';

export const listKeys = defineTool({
  name: 'list_keys',
  title: 'List API keys',
  description:
    "List the API keys of your organization, newest first: id, name, environment (live/test), start (the first characters, never the secret), permissions, expiry, enabled/revoked state and last use. Revoked keys are left out unless include_revoked is true. Pages hold up to `limit` keys; pass next_cursor back as cursor for the next page. Use a key's id with get_key, rotate_key, update_key or revoke_key. Needs keys:read.",
  input: ListKeysInput,
  output: KeyList,
  annotations: { readOnlyHint: true, openWorldHint: false },
  call: (api, args) => api.listKeys(args),
});
