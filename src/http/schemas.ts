import { z } from 'zod';
import { ERROR_TYPES } from '../core/errors.js';
import {
  CreatedKey,
  EnvironmentSchema,
  GenerateKeyInput,
  KeyList,
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
  next_cursor: KeyList.shape.next_cursor,
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

export const Health = z.object({
  status: z.enum(['ok', 'unavailable']).describe('unavailable (with HTTP 503) when the database cannot be written.'),
  version: z.string(),
  reason: z.string().optional().describe('Why the server is unavailable.'),
});

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

