import { RotateKeyInput, RotatedKey } from '../../core/schemas.js';
import { defineTool } from '../tool.js';

export const rotateKey = defineTool({
  name: 'rotate_key',
  title: 'Rotate an API key',
  description:
    'Replace an API key with a new one that has the same name, environment, permissions, allowed IPs and rate limit. Returns the new secret ONCE (give it to the user to store) and the old key, which keeps working for grace_period_seconds (default 3600, at most 604800) so deployments can switch over, then answers EXPIRED_API_KEY. grace_period_seconds 0 revokes the old key at once. You may rotate the very key you are using: the new secret is in the answer, so you are never locked out. Once rotated, the old key can still read but no longer create or change keys. Needs keys:write.',
  input: RotateKeyInput,
  output: RotatedKey,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  call: (api, args) => api.rotateKey(args),
});
