import type { ErrorHandler, NotFoundHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DisperslError, asDisperslError, causeOf } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { AppContext, AppEnv } from '../env.js';
import { redactPath } from '../../core/redact.js';

/** RFC 6750: no error code when no credential was sent, invalid_token for a credential that failed. */
export function wwwAuthenticate(error: DisperslError): string {
  if (error.type === 'MISSING_API_KEY') return 'Bearer realm="dispersl"';
  return `Bearer realm="dispersl", error="invalid_token", error_description="${error.message.replace(/["\\]/g, '')}"`;
}

/** The contract's envelope with the status of its type, and the headers that go with it. */
export function errorResponse(c: AppContext, error: DisperslError): Response {
  if (error.status === 401) c.header('WWW-Authenticate', wwwAuthenticate(error));
  if (error.status === 429 && typeof error.details.retry_after === 'number') c.header('Retry-After', String(error.details.retry_after));
  // The rest of an oversized body is not worth reading: answer, then close the connection (once
  // the lingering close of server.ts has taken in what the client was still sending, up to a bound).
  if (error.type === 'PAYLOAD_TOO_LARGE') c.header('Connection', 'close');
  return c.json(error.toEnvelope(), error.status as ContentfulStatusCode);
}

/** Maps anything a handler throws to the envelope; what is not ours is logged here and answered as INTERNAL_ERROR, with nothing internal. */
export const handleErrors = ({ logger }: { logger: Logger }): ErrorHandler<AppEnv> =>
  function handleErrors(err, c) {
    const error = asDisperslError(err);
    if (error.type === 'INTERNAL_ERROR') {
      logger.error('request failed', { request_id: c.get('requestId'), path: redactPath(c.req.path), ...causeOf(err) });
    }
    return errorResponse(c, error);
  };

/**
 * Unknown routes, and known paths asked with the wrong method, answer NOT_FOUND the way Stripe
 * does ("Unrecognized request URL"), with `Allow` naming the methods the path does accept.
 */
export const notFound = ({ allowed }: { allowed(path: string): string[] }): NotFoundHandler<AppEnv> =>
  function notFound(c) {
    const methods = allowed(c.req.path);
    if (methods.length > 0) c.header('Allow', methods.join(', '));
    const message = `Unrecognized request URL (${c.req.method}: ${redactPath(c.req.path).slice(0, 200)})`;
    return errorResponse(c, new DisperslError('NOT_FOUND', message, methods.length > 0 ? { allow: methods } : {}));
  };
