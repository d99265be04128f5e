import { isIP } from 'node:net';
import { z } from 'zod';
import type { Caller, Gate, Verification } from './auth.js';
import { DisperslError } from './errors.js';
import { VERIFY_PERMISSION, hasPermission } from './model.js';
import { ERROR_TYPE_NAMES, KeyView, Permission } from './schemas.js';
import { toView } from './service.js';

export const DEFAULT_LEASE_MS = 60_000;
export const MAX_LEASE_MS = 900_000;

export const VerifyKeyInput = z
  .object({
    key: z.string().min(1, 'must not be empty').max(512).describe("The token your user presented (pk_live_… / pk_test_…). It is never stored, logged or echoed."),
    permissions: z.array(Permission).max(50).optional().describe('Permissions the key must all hold; otherwise the answer is INSUFFICIENT_PERMISSIONS.'),
    cost: z.number().int().min(0).max(1000).default(1).describe("Requests charged to the key's quota (0–1000, default 1); 0 checks without charging."),
    ip: z
      .string()
      .max(64)
      .refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address')
      .optional()
      .describe("The end user's address, checked against the key's allowed_ips. A key with an allowlist is refused when it is absent."),
    hold: z.boolean().default(false).describe("Take one of the key's concurrency slots as a lease, until released or lease_ms passes."),
    lease_ms: z.number().int().min(1_000).max(MAX_LEASE_MS).default(DEFAULT_LEASE_MS).describe('How long a held lease lasts (default 60000, at most 900000).'),
  })
  .strict();
export type VerifyKeyInput = z.input<typeof VerifyKeyInput>;

export const VerifyKeyResult = z.object({
  valid: z.boolean().describe('Whether the key may make this request.'),
  type: z.enum(['VALID', ...ERROR_TYPE_NAMES]).describe('VALID, or the error the key would get (INVALID_API_KEY, REVOKED_API_KEY, RATE_LIMIT_EXCEEDED, …).'),
  key: KeyView.nullable().describe('The key, when it is one of your organization; null for an unknown key or another organization’s.'),
  organization: z.object({ id: z.string(), name: z.string(), plan: z.enum(['free', 'pro', 'enterprise']) }).nullable(),
  ratelimit: z
    .object({ limit: z.number().int(), remaining: z.number().int(), reset_at: z.string() })
    .nullable()
    .describe('The window that binds the key, after this charge.'),
  lease: z.object({ id: z.string(), expires_at: z.string() }).nullable().describe('The concurrency lease taken with hold: release it with POST /v1/leases/{id}/release.'),
});
export type VerifyKeyResult = z.infer<typeof VerifyKeyResult>;

export const LeaseId = z.string().max(64).regex(/^lease_[0-9A-Za-z_-]+$/, 'must be a lease id like lease_…');

export const ReleasedLease = z.object({
  id: z.string(),
  key_id: z.string(),
  expires_at: z.string(),
  released_at: z.string().nullable().describe('When it was released; null when it had expired before anyone released it.'),
});
export type ReleasedLease = z.infer<typeof ReleasedLease>;

/** A verifier is any key of the organization holding keys:verify (admin implies it). */
export function requireVerifier(caller: Caller): void {
  if (!hasPermission(caller.key.permissions, VERIFY_PERMISSION)) {
    throw new DisperslError('INSUFFICIENT_PERMISSIONS', `This action needs the ${VERIFY_PERMISSION} permission`, { required: [VERIFY_PERMISSION] });
  }
}

/** Answers what a verification found, as data: 200 whatever the key's state. */
export function verificationResult(found: Verification): VerifyKeyResult {
  const { error, key, org, window, lease } = found;
  // An unknown key, or another organization's, shows nothing of itself.
  const known = error?.type !== 'INVALID_API_KEY' && error?.type !== 'MISSING_API_KEY';
  return {
    valid: error === undefined,
    type: error ? error.type : 'VALID',
    key: known && key ? toView(key) : null,
    organization: known && org ? { id: org.id, name: org.name, plan: org.plan } : null,
    ratelimit: window ? { limit: window.limit, remaining: window.remaining, reset_at: new Date(window.reset_at).toISOString() } : null,
    lease: lease ? { id: lease.id, expires_at: new Date(lease.expires_at).toISOString() } : null,
  };
}

/** Verify a user's key for a verifier of the same organization; the verifier itself is not charged. */
export async function verifyKey(gate: Gate, verifier: Caller, input: z.output<typeof VerifyKeyInput>): Promise<VerifyKeyResult> {
  requireVerifier(verifier);
  const found = await gate.verify({
    token: input.key,
    orgId: verifier.org.id,
    permissions: input.permissions ?? [],
    cost: input.cost,
    ip: input.ip,
    holdMs: input.hold ? input.lease_ms : undefined,
  });
  return verificationResult(found);
}
