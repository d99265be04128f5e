import { z } from 'zod';
import { isIpOrCidr } from './ip.js';
import { nameProblem } from './names.js';
import { ERROR_TYPES } from './errors.js';
import { KEY_STATES, type KeyState } from './model.js';

/** The error types, as a list zod can enumerate. */
export const ERROR_TYPE_NAMES = [...ERROR_TYPES] as [(typeof ERROR_TYPES)[number], ...Array<(typeof ERROR_TYPES)[number]>];

/** Every schema of the public contract, declared once: MCP tools, REST routes and OpenAPI all use these. */

const PERMISSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:*/-]*$/;

export const MAX_GRACE_SECONDS = 604_800;
export const DEFAULT_GRACE_SECONDS = 3_600;


export const KeyId = z
  .string()
  .max(64)
  .regex(/^key_[0-9A-Za-z]+$/, 'must be a key id like key_…')
  .describe('The key id (key_…) as shown by list_keys; never the secret token.');

export const KeyName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .superRefine((s, ctx) => {
    const problem = s === '' ? undefined : nameProblem(s);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('A human name for the key, e.g. "CI (GitHub Actions)". 1–100 characters.');

export const EnvironmentSchema = z
  .enum(['live', 'test'])
  .describe('live keys (pk_live_) for production; test keys (pk_test_) for development and CI, with lower limits.');

export const Permission = z
  .string()
  .min(1)
  .max(64, 'must be at most 64 characters')
  .regex(PERMISSION_PATTERN, 'must be letters, digits and . _ : * / -');

export const Permissions = z
  .array(Permission)
  .min(1, 'must name at least one permission')
  .max(50, 'must be at most 50 permissions')
  .refine((list) => new Set(list).size === list.length, 'must not repeat a permission')
  .describe(
    'Permissions of the new key. This service checks keys:read (list, get), keys:write (generate, revoke, rotate, update) and admin (everything). Other strings are stored and returned. You can grant only permissions your own key holds.',
  );

export const AllowedIps = z
  .array(z.string().max(64).refine(isIpOrCidr, 'must be an IPv4/IPv6 address or CIDR range'))
  .max(100, 'must be at most 100 entries')
  .describe('IPs or CIDR ranges (v4 or v6) the key may be used from, e.g. ["203.0.113.7", "10.0.0.0/8"]. Empty or absent: any IP.');

export const IsoDateTime = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-12-31T23:59:59Z' });

export const RateLimitSchema = z
  .object({
    max: z.number().int().min(1).max(1_000_000_000).describe('Requests allowed per window.'),
    window_ms: z.number().int().min(1_000).max(86_400_000).describe('Window length in milliseconds (1 s to 24 h).'),
  })
  .strict()
  .describe("The key's own rate limit, applied on top of the plan's hourly quota.");

export const ListKeysInput = z
  .object({
    limit: z.number().int().min(1).max(100).default(20).describe('How many keys to return (1–100, default 20).'),
    cursor: z.string().max(200).optional().describe('The next_cursor of a previous page, to fetch the page after it.'),
    include_revoked: z.boolean().default(false).describe('Also list revoked keys (default false).'),
    environment: EnvironmentSchema.optional().describe('Only live or only test keys.'),
    name: z.string().trim().min(1).max(100).optional().describe('Only keys whose name contains this text (case-insensitive).'),
    unused_since: z
      .union([z.iso.date(), IsoDateTime])
      .optional()
      .describe('Only keys never used, or last used before this date (ISO 8601, e.g. 2026-06-01): candidates for revoking.'),
    state: z
      .enum(KEY_STATES)
      .optional()
      .describe(
        'Only keys in this state: active (not revoked, enabled, not expired), disabled (not revoked, disabled), expired (not revoked, past expires_at) or revoked (listed without include_revoked).',
      ),
  })
  .strict();

export const GetKeyInput = z.object({ id: KeyId }).strict();

export const GenerateKeyInput = z
  .object({
    name: KeyName,
    environment: EnvironmentSchema.optional().describe("live or test; defaults to the calling key's environment."),
    permissions: Permissions.optional().describe(
      "Permissions of the new key; defaults to the calling key's own. keys:read lists and reads keys, keys:write also creates and changes them, admin does everything. Only permissions your key holds can be granted.",
    ),
    allowed_ips: AllowedIps.optional(),
    expires_at: IsoDateTime.optional().describe('When the key stops working, ISO 8601 (e.g. 2026-12-31T23:59:59Z). Must be in the future.'),
    expires_in_seconds: z
      .number()
      .int()
      .min(60)
      .max(10 * 365 * 86_400)
      .optional()
      .describe('Alternative to expires_at: lifetime from now in seconds (a week is 604800). Give one of the two at most.'),
    rate_limit: RateLimitSchema.optional(),
  })
  .strict();

export const RevokeKeyInput = z.object({ id: KeyId }).strict();

export const RotateKeyInput = z
  .object({
    id: KeyId,
    grace_period_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_GRACE_SECONDS)
      .default(DEFAULT_GRACE_SECONDS)
      .describe('How long the old key keeps working (default 3600, at most 604800 = 7 days). 0 revokes it at once.'),
  })
  .strict();

export const UpdateKeyInput = z
  .object({
    id: KeyId,
    name: KeyName.optional(),
    enabled: z.boolean().optional().describe('false disables the key at once (reversible); true enables it again.'),
  })
  .strict()
  .refine((v) => v.name !== undefined || v.enabled !== undefined, { message: 'give name or enabled', path: ['name'] });

export const WhoamiInput = z.object({}).strict();

export type ListKeysInput = z.input<typeof ListKeysInput>;
export type GetKeyInput = z.input<typeof GetKeyInput>;
export type GenerateKeyInput = z.input<typeof GenerateKeyInput>;
export type RevokeKeyInput = z.input<typeof RevokeKeyInput>;
export type RotateKeyInput = z.input<typeof RotateKeyInput>;
export type UpdateKeyInput = z.input<typeof UpdateKeyInput>;

const Timestamp = z.string().nullable();

export const KeyView = z.object({
  id: z.string().describe('The key id, used to name the key in every tool and route.'),
  name: z.string(),
  environment: EnvironmentSchema,
  start: z.string().describe('The first characters of the token, to recognise it; never the whole token.'),
  permissions: z.array(z.string()),
  allowed_ips: z.array(z.string()),
  expires_at: Timestamp,
  enabled: z.boolean(),
  is_revoked: z.boolean(),
  revoked_at: Timestamp,
  rate_limit: RateLimitSchema.nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  last_used_at: Timestamp,
  rotated_from: z.string().nullable(),
  rotated_to: z.string().nullable(),
});
export type KeyView = z.infer<typeof KeyView>;

/** The one word a key's state reads as, in the order the gate checks it (what list_keys' state filter means). */
export function stateOf(key: KeyView, now: number): KeyState {
  if (key.is_revoked) return 'revoked';
  if (!key.enabled) return 'disabled';
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now) return 'expired';
  return 'active';
}

export const KeyList = z.object({
  keys: z.array(KeyView),
  next_cursor: z.string().nullable().describe('Pass as cursor to get the next page; null on the last page.'),
});
export type KeyList = z.infer<typeof KeyList>;

const Secret = z.string().describe('The full token. It is shown this once and cannot be retrieved again: store it now.');

export const CreatedKey = z.object({ key: KeyView, secret: Secret });
export type CreatedKey = z.infer<typeof CreatedKey>;

export const RotatedKey = z.object({
  key: KeyView.describe('The new key.'),
  secret: Secret,
  previous: KeyView.describe('The old key, with the time it stops working in expires_at (or revoked at once).'),
});
export type RotatedKey = z.infer<typeof RotatedKey>;

/** How a new key's secret reaches the user over MCP: in the result (inline), or by a one-time reveal the model never reads. */
export const SecretDelivery = z
  .enum(['inline', 'reveal'])
  .describe(
    'inline: the secret is in this result. reveal: the result holds no secret, only a one-time link or command the user opens to see it (10 minutes, once). May only be stricter than the server setting.',
  );

export const Reveal = z
  .object({
    url: z.string().optional().describe('A one-time page showing the secret to the user: give the link to the user; do not open it yourself.'),
    command: z.string().optional().describe('Run by the user in a terminal (same database or server) to print the secret once.'),
    expires_at: z.string().describe('When the link and command stop working.'),
    delivered: z.literal('url_elicitation').optional().describe('The client already showed the user the link; there is nothing to pass on.'),
  })
  .describe('Where the user sees the secret once, in place of secret: it never enters this conversation.');

export const Whoami = z.object({
  organization: z.object({ id: z.string(), name: z.string(), plan: z.enum(['free', 'pro', 'enterprise']) }),
  key: KeyView,
  limits: z.object({
    hourly: z.object({ limit: z.number(), remaining: z.number(), reset_at: z.string() }),
    concurrency: z.object({ limit: z.number(), in_flight: z.number() }),
  }),
});
export type Whoami = z.infer<typeof Whoami>;

/** The REST shapes, built from the schemas above so REST, MCP and OpenAPI cannot drift apart. */

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

/** zod issues as the contract reports them: which field, and why. */
export function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  // An unknown field is reported at its own path, so the caller learns which field to drop.
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: [...issue.path, key].map(String).join('.'), message: 'is not a known field' }))
      : [{ path: issue.path.map(String).join('.'), message: issue.message }],
  );
}
