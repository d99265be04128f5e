import { KeyView, RevokeKeyInput } from '../../core/schemas.js';
import { defineTool } from '../tool.js';

export const revokeKey = defineTool({
  name: 'revoke_key',
  title: 'Revoke an API key',
  description:
    'Permanently revoke an API key by id: from the next request on, in every process, it answers REVOKED_API_KEY. This cannot be undone (to pause a key, use update_key with enabled false). Confirm with the user first. A key cannot revoke itself: to replace the key you are using, use rotate_key. Revoking an already revoked key changes nothing. Needs keys:write.',
  input: RevokeKeyInput,
  output: KeyView,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  call: (api, args) => api.revokeKey(args),
});
