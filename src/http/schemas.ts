import { z } from 'zod';
import type { ErrorType } from '../core/errors.js';
import {
  CreatedKey,
  EnvironmentSchema,
  GenerateKeyInput,
  KeyName,
  KeyView,
  RotateKeyInput,
  RotatedKey,
  UpdateKeyInput,
  Whoami,
} from '../core/schemas.js';

/** The REST shapes of the seeds, built from the core schemas so REST, MCP and OpenAPI cannot drift apart. */

export const RestKeyList = z.object({
  apiKeys: z.array(KeyView).describe('Keys of your organization, newest first.'),
  next_cursor: z.string().nullable().describe('Pass as cursor to get the next page; null on the last page.'),
});

export const NewKeyQuery = z
  .object({
    name: KeyName.optional().describe('A name for the new key (default "Generated API key").'),
    environment: EnvironmentSchema.optional().describe("live or test; defaults to the calling key's environment."),
  })
  .strict();

export const NewKeyResponse = z.object({
  publicKey: CreatedKey.shape.secret,
  message: z.literal('API key generated successfully'),
  key: KeyView,
});

export const ApiKeyCreated = KeyView.extend({
  object: z.literal('api_key'),
  secret_key: CreatedKey.shape.secret,
});

const { id: _updateId, ...updateFields } = UpdateKeyInput.shape;
export const UpdateKeyBody = z.object(updateFields).strict();

const { id: _rotateId, ...rotateFields } = RotateKeyInput.shape;
export const RotateKeyBody = z.object(rotateFields).strict();

export const Health = z.object({ status: z.literal('ok'), version: z.string() });

const ERROR_TYPES = [
  'MISSING_API_KEY',
  'INVALID_API_KEY',
  'EXPIRED_API_KEY',
  'REVOKED_API_KEY',
  'DISABLED_API_KEY',
  'IP_NOT_ALLOWED',
  'INSUFFICIENT_PERMISSIONS',
  'ORGANIZATION_FORBIDDEN',
  'NOT_FOUND',
  'INVALID_REQUEST',
  'CANNOT_REVOKE_SELF',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMIT_EXCEEDED',
  'CONCURRENCY_LIMIT_EXCEEDED',
  'INTERNAL_ERROR',
] as const satisfies readonly ErrorType[];
// Fails to compile when the error union gains a type this list lacks.
const _allTypes: Record<ErrorType, true> = Object.fromEntries(ERROR_TYPES.map((t) => [t, true])) as Record<(typeof ERROR_TYPES)[number], true>;

export const ErrorEnvelope = z.object({
  error: z.object({
    code: z.number().int().describe('The HTTP status.'),
    type: z.enum(ERROR_TYPES),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).describe('e.g. issues (INVALID_REQUEST), required (403), retry_after and reset_at (429).'),
  }),
});

/** Named schemas, as OpenAPI components: responses (output) and request bodies (input). */
export const OUTPUT_SCHEMAS = new Map<z.ZodType, string>([
  [KeyView, 'Key'],
  [RestKeyList, 'KeyList'],
  [NewKeyResponse, 'NewKey'],
  [ApiKeyCreated, 'ApiKeyCreated'],
  [RotatedKey, 'RotatedKey'],
  [Whoami, 'Whoami'],
  [Health, 'Health'],
  [ErrorEnvelope, 'Error'],
]);

export const INPUT_SCHEMAS = new Map<z.ZodType, string>([
  [GenerateKeyInput, 'CreateKeyRequest'],
  [UpdateKeyBody, 'UpdateKeyRequest'],
  [RotateKeyBody, 'RotateKeyRequest'],
]);

