import { z } from 'zod';
import { ERROR_TYPES } from '../core/errors.js';
import { ReleasedLease, VerifyKeyInput, VerifyKeyResult } from '../core/verify.js';
import {
  ApiKeyCreated,
  GenerateKeyInput,
  KeyView,
  NewKeyResponse,
  RestKeyList,
  RotateKeyBody,
  RotatedKey,
  UpdateKeyBody,
  Whoami,
} from '../core/schemas.js';

export const Health = z.object({
  status: z.enum(['ok', 'unavailable']).describe('unavailable (with HTTP 503) when the database cannot be written.'),
  version: z.string(),
  reason: z.string().optional().describe('Why the server is unavailable.'),
});

export const TokenRequestForm = z.object({
  grant_type: z.literal('client_credentials'),
  client_id: z.string().optional().describe('The key id (key_…), unless sent with Basic authentication.'),
  client_secret: z.string().optional().describe("The key's token, unless sent with Basic authentication."),
  scope: z.string().optional().describe('Space-separated permissions, at most those of the key (default: all of them).'),
  resource: z.string().optional().describe('The resource the token is for (RFC 8707), a URL of this server.'),
});

export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: z.number().int(),
  scope: z.string(),
});

export const OAuthMetadata = z.looseObject({}).describe('RFC 8414 / RFC 9728 metadata.');

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
  [TokenResponse, 'AccessToken'],
  [ErrorEnvelope, 'Error'],
  [VerifyKeyResult, 'Verification'],
  [ReleasedLease, 'Lease'],
]);

export const INPUT_SCHEMAS = new Map<z.ZodType, string>([
  [GenerateKeyInput, 'CreateKeyRequest'],
  [UpdateKeyBody, 'UpdateKeyRequest'],
  [RotateKeyBody, 'RotateKeyRequest'],
  [TokenRequestForm, 'AccessTokenRequest'],
  [VerifyKeyInput, 'VerifyKeyRequest'],
]);

