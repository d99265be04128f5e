import { defineOperation } from '../operation.js';
import { KeyView, UpdateKeyBody, UpdateKeyInput } from '../schemas.js';

export const updateKey = defineOperation({
  input: UpdateKeyInput,
  output: KeyView,
  permission: 'keys:write',
  write: true,
  tool: {
    name: 'update_key',
    title: 'Update an API key',
    description:
      'Rename an API key, or disable/enable it. A disabled key answers DISABLED_API_KEY from the next request on until enabled again; unlike revoke_key this is reversible. A key cannot disable itself. Revoked keys cannot change. Needs keys:write.',
    destructive: false,
    idempotent: true,
  },
  confirm: {
    when: ({ enabled }) => enabled === false,
    action: 'Disable this API key',
    consequence: () => 'Every request with it fails from now on (DISABLED_API_KEY), until it is enabled again.',
    notSelf: true,
  },
  rest: [
    {
      method: 'PATCH',
      path: '/v1/keys/:id',
      operationId: 'updateKey',
      summary: 'Rename, disable or enable an API key',
      description: 'Changes name and/or enabled. Disabling takes effect on the very next request, in every process.',
      body: { schema: UpdateKeyBody, required: true },
      status: 200,
      response: KeyView,
    },
  ],
  run: (service, caller, args) => service.update(caller, args),
});
