import { parseInput } from '../../core/operation.js';
import { VerifyKeyInput, VerifyKeyResult, requireVerifier, verifyKey } from '../../core/verify.js';
import { jsonObjectBody } from '../body.js';
import { credentialOf } from '../credential.js';
import { defineRoute } from '../route.js';

/**
 * A REST route of its own, not an operation: an MCP tool would put a user's secret in the model's
 * context, and the verifier is authenticated without being charged (the verified key is).
 */
export const verifyKeyRoute = defineRoute({
  method: 'POST',
  path: '/v1/keys/verify',
  operationId: 'verifyKey',
  summary: 'Verify a key',
  description:
    "Checks a key your user presented, for your own API: valid or the error type it would get, its permissions, IP allowlist and limits, charging `cost` to that key's quota (the verifier is not charged). Always 200 for a well-formed request; an unknown key or another organization's answers INVALID_API_KEY with key null. With hold, takes a concurrency slot as a lease.",
  auth: true,
  charged: false,
  permission: 'keys:verify',
  body: VerifyKeyInput,
  bodyRequired: true,
  status: 200,
  response: VerifyKeyResult,
  async handle(c, { gate, bodyLimit, maxDepth }) {
    const caller = await gate.peek(credentialOf(c));
    c.set('keyStart', caller.key.start);
    requireVerifier(caller);
    const input = parseInput(VerifyKeyInput, await jsonObjectBody(c, bodyLimit, maxDepth));
    return c.json(await verifyKey(gate, caller, input), 200);
  },
});
