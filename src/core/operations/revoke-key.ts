import { defineOperation } from '../operation.js';
import { KeyView, RevokeKeyInput } from '../schemas.js';

export const revokeKey = defineOperation({
  input: RevokeKeyInput,
  output: KeyView,
  permission: 'keys:write',
  write: true,
  tool: {
    name: 'revoke_key',
    title: 'Revoke an API key',
    description:
      'Permanently revoke an API key by id: from the next request on, in every process, it answers REVOKED_API_KEY. This cannot be undone (to pause a key, use update_key with enabled false). The server asks the user to confirm where the client can (CONFIRMATION_DECLINED if they say no); otherwise confirm with the user first. A key cannot revoke itself: to replace the key you are using, use rotate_key. Revoking an already revoked key changes nothing. Needs keys:write.',
    destructive: true,
    idempotent: true,
  },
  confirm: {
    action: 'Revoke this API key',
    consequence: () => 'Every request with it fails from now on (REVOKED_API_KEY). This cannot be undone.',
    notSelf: true,
  },
  rest: [
    {
      method: 'DELETE',
      path: '/v1/keys/:id',
      operationId: 'revokeKey',
      summary: 'Revoke an API key',
      description:
        'Revokes a key for good; it answers REVOKED_API_KEY from the next request on. The key that authenticates the call cannot revoke itself (409 CANNOT_REVOKE_SELF): rotate it instead.',
      status: 200,
      response: KeyView,
    },
  ],
  run: (service, caller, args) => service.revoke(caller, args),
});
