import { CreatedKey, GenerateKeyInput } from '../../core/schemas.js';
import { defineTool } from '../tool.js';

export const generateKey = defineTool({
  name: 'generate_key',
  title: 'Generate an API key',
  description:
    'Create a new API key and return its secret (pk_live_… or pk_test_…). The secret is shown ONCE: give it to the user right away and tell them to store it (e.g. in an environment variable or CI secret); it cannot be retrieved later. Use environment "test" for development and CI keys. Set an expiry with expires_in_seconds (a week is 604800) or expires_at. Permissions, expiry, allowed_ips and rate_limit default to your own key\'s and can never exceed them (no later expiry, no wider allowlist, no looser rate limit). Needs keys:write, from a key that has not been rotated; a test key creates test keys only.',
  input: GenerateKeyInput,
  output: CreatedKey,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  call: (api, args) => api.generateKey(args),
});
