import { KeyView, UpdateKeyInput } from '../../core/schemas.js';
import { defineTool } from '../tool.js';

export const updateKey = defineTool({
  name: 'update_key',
  title: 'Update an API key',
  description:
    'Rename an API key, or disable/enable it. A disabled key answers DISABLED_API_KEY from the next request on until enabled again; unlike revoke_key this is reversible. A key cannot disable itself. Revoked keys cannot change. Needs keys:write.',
  input: UpdateKeyInput,
  output: KeyView,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  call: (api, args) => api.updateKey(args),
});
