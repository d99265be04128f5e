import { defineOperation } from '../operation.js';
import { RotateKeyBody, RotateKeyInput, RotatedKey } from '../schemas.js';

export const rotateKey = defineOperation({
  input: RotateKeyInput,
  output: RotatedKey,
  permission: 'keys:write',
  write: true,
  secret: true,
  tool: {
    name: 'rotate_key',
    title: 'Rotate an API key',
    description:
      'Replace an API key with a new one that has the same name, environment, permissions, allowed IPs and rate limit. Returns the new secret ONCE (give it to the user to store) and the old key, which keeps working for grace_period_seconds (default 3600, at most 604800) so deployments can switch over, then answers EXPIRED_API_KEY. grace_period_seconds 0 revokes the old key at once. You may rotate the very key you are using: the new secret is in the answer, so you are never locked out. Once rotated, the old key can still read but no longer create or change keys. The server may ask the user to confirm first. If the result holds reveal instead of secret, give the user reveal.url or reveal.command and do not open it yourself. Needs keys:write.',
    destructive: true,
    idempotent: false,
  },
  confirm: {
    action: 'Rotate this API key',
    consequence: ({ grace_period_seconds }) =>
      grace_period_seconds === 0
        ? 'A new key replaces it, and every request with the old key fails from now on.'
        : `A new key replaces it; the old key keeps working for ${grace_period_seconds} seconds, then every request with it fails.`,
  },
  rest: [
    {
      method: 'POST',
      path: '/v1/keys/:id/rotate',
      operationId: 'rotateKey',
      summary: 'Rotate an API key',
      description:
        'Creates a successor with the same settings and a new secret (shown this once). The old key keeps working for grace_period_seconds (default 3600); 0 revokes it at once. The body is optional.',
      body: { schema: RotateKeyBody, required: false },
      status: 200,
      response: RotatedKey,
    },
  ],
  run: (service, caller, args, reveal) => service.rotate(caller, args, reveal),
});
