import { redactSecrets } from './redact.js';

/** The closed set of errors the product can answer with, the same over REST and MCP. */
export const ERROR_TYPES = [
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
  'CONFIRMATION_DECLINED',
  'CONFIRMATION_REQUIRED',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMIT_EXCEEDED',
  'CONCURRENCY_LIMIT_EXCEEDED',
  'INTERNAL_ERROR',
] as const;

export type ErrorType = (typeof ERROR_TYPES)[number];

export type ErrorDetails = Record<string, unknown>;

export interface ErrorEnvelope {
  error: { code: number; type: ErrorType; message: string; details: ErrorDetails };
}

export function statusOf(type: ErrorType): number {
  switch (type) {
    case 'INVALID_REQUEST':
      return 400;
    case 'MISSING_API_KEY':
    case 'INVALID_API_KEY':
    case 'EXPIRED_API_KEY':
    case 'REVOKED_API_KEY':
    case 'DISABLED_API_KEY':
      return 401;
    case 'IP_NOT_ALLOWED':
    case 'INSUFFICIENT_PERMISSIONS':
    case 'ORGANIZATION_FORBIDDEN':
    case 'CONFIRMATION_REQUIRED':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'CANNOT_REVOKE_SELF':
    case 'CONFIRMATION_DECLINED':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'RATE_LIMIT_EXCEEDED':
    case 'CONCURRENCY_LIMIT_EXCEEDED':
      return 429;
    case 'INTERNAL_ERROR':
      return 500;
  }
}

const DEFAULT_MESSAGES: Record<ErrorType, string> = {
  MISSING_API_KEY: 'No Bearer token provided',
  INVALID_API_KEY: 'Failed to verify api_key or token',
  EXPIRED_API_KEY: 'The API key has expired',
  REVOKED_API_KEY: 'The API key has been revoked',
  DISABLED_API_KEY: 'The API key is disabled',
  IP_NOT_ALLOWED: 'The API key may not be used from this IP address',
  INSUFFICIENT_PERMISSIONS: 'The API key lacks the permission this action requires',
  ORGANIZATION_FORBIDDEN: 'Organization access denied (X-Organization-ID does not match the key)',
  NOT_FOUND: 'Not found',
  INVALID_REQUEST: 'The request is invalid',
  CANNOT_REVOKE_SELF: 'A key cannot revoke or disable itself; rotate the key instead',
  CONFIRMATION_DECLINED: 'The user declined or cancelled the confirmation; nothing was changed',
  CONFIRMATION_REQUIRED: 'This action needs the user to confirm it, and this client cannot ask them (connect with a client that supports elicitation)',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  RATE_LIMIT_EXCEEDED: 'Rate limit exceeded',
  CONCURRENCY_LIMIT_EXCEEDED: 'Rate limit exceeded: too many concurrent requests for this API key',
  INTERNAL_ERROR: 'Internal error',
};

export class DisperslError extends Error {
  readonly type: ErrorType;
  readonly details: ErrorDetails;

  /** `cause`: what went wrong inside, for the operator's log only (never in an envelope). */
  constructor(type: ErrorType, message: string = DEFAULT_MESSAGES[type], details: ErrorDetails = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DisperslError';
    this.type = type;
    this.details = details;
  }

  get status(): number {
    return statusOf(this.type);
  }

  toEnvelope(): ErrorEnvelope {
    return { error: { code: this.status, type: this.type, message: this.message, details: this.details } };
  }
}

export function isErrorType(value: unknown): value is ErrorType {
  return (ERROR_TYPES as readonly unknown[]).includes(value);
}

/** Anything that is not one of ours becomes INTERNAL_ERROR, carrying nothing internal (but keeping its cause for the log). */
export function asDisperslError(err: unknown): DisperslError {
  return err instanceof DisperslError ? err : new DisperslError('INTERNAL_ERROR', undefined, {}, err);
}

/**
 * What an operator's log line says of a failure: the innermost cause's message (e.g. SQLite's
 * "database or disk is full") and code (SQLITE_FULL), with anything shaped like a key or token redacted.
 */
export function causeOf(err: unknown): { error: string; code?: string } {
  let inner = err;
  while (inner instanceof DisperslError && inner.cause !== undefined) inner = inner.cause;
  if (!(inner instanceof Error)) return { error: redactSecrets(String(inner)) };
  const code = (inner as { code?: unknown }).code;
  return { error: redactSecrets(inner.message), ...(typeof code === 'string' && { code }) };
}

export interface Issue {
  path: string;
  message: string;
}

export function invalidRequest(issues: Issue[], message?: string): DisperslError {
  const summary = message ?? issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return new DisperslError('INVALID_REQUEST', summary || DEFAULT_MESSAGES.INVALID_REQUEST, { issues });
}

export function notFound(what = 'key'): DisperslError {
  return new DisperslError('NOT_FOUND', `No ${what} with this id`);
}
