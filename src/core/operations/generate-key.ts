import { defineOperation } from '../operation.js';
import { ApiKeyCreated, CreatedKey, GenerateKeyInput, NewKeyQuery, NewKeyResponse } from '../schemas.js';

export const generateKey = defineOperation({
  input: GenerateKeyInput,
  output: CreatedKey,
  permission: 'keys:write',
  write: true,
  secret: true,
  tool: {
    name: 'generate_key',
    title: 'Generate an API key',
    description:
      'Create a new API key and return its secret (pk_live_… or pk_test_…). The secret is shown ONCE: give it to the user right away and tell them to store it (e.g. in an environment variable or CI secret); it cannot be retrieved later. Use environment "test" for development and CI keys. Set an expiry with expires_in_seconds (a week is 604800) or expires_at. Permissions, expiry, allowed_ips and rate_limit default to your own key\'s and can never exceed them (no later expiry, no wider allowlist, no looser rate limit). If the result holds reveal instead of secret (secret_delivery reveal), give the user reveal.url or reveal.command: the secret is shown to them there, once, and never to you; do not open the link yourself. Needs keys:write, from a key that has not been rotated; a test key creates test keys only.',
    destructive: false,
    idempotent: false,
  },
  rest: [
    {
      method: 'POST',
      path: '/v1/api-keys',
      operationId: 'createKey',
      summary: 'Create an API key',
      description: 'Creates a key. secret_key holds the full token, shown this once: store it now.',
      body: { schema: GenerateKeyInput, required: true },
      status: 201,
      response: ApiKeyCreated,
      toRest: ({ key, secret }) => ({ ...key, object: 'api_key', secret_key: secret }),
      fromRest: (body) => {
        const { object: _object, secret_key, ...key } = (body ?? {}) as Record<string, unknown>;
        return { key, secret: secret_key };
      },
    },
    {
      method: 'GET',
      path: '/v1/keys/new',
      operationId: 'newKey',
      summary: 'Generate a key like your own',
      description: "Creates a key with the calling key's environment and permissions. The full token is in publicKey, shown this once.",
      query: { schema: NewKeyQuery, defaults: { name: 'Generated API key' } },
      status: 200,
      response: NewKeyResponse,
      toRest: ({ key, secret }) => ({ publicKey: secret, message: 'API key generated successfully', key }),
    },
  ],
  run: (service, caller, args, reveal) => service.generate(caller, args, reveal),
});
