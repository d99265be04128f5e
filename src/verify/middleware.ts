import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { DisperslError, type ErrorType, isErrorType } from '../core/errors.js';
import type { Verifier, VerifyOptions, VerifyResult } from './client.js';

/** What a guard asks of every request it lets through. */
export interface GuardOptions extends Omit<VerifyOptions, 'ip'> {
  /** The end user's address (default: the TCP peer; forwarding headers are not trusted unless you say so here). */
  ip?: (req: IncomingMessage) => string | undefined;
}

/** What a guard answers for a request: the verification, or the response it already sent. */
export type GuardOutcome = { ok: true; result: VerifyResult } | { ok: false; status: number };

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

function tokenOf(authorization: string | undefined, apiKey: string | undefined): string | undefined {
  const bearer = authorization === undefined ? undefined : BEARER.exec(authorization)?.[1];
  return bearer ?? (apiKey?.trim() || undefined);
}

/** The contract's envelope and headers for a refused key, the same as dispersl-mcp's own API answers. */
export function refusal(result: VerifyResult | undefined, now: number = Date.now()): { status: number; headers: Record<string, string>; body: string } {
  const type: ErrorType = result === undefined ? 'MISSING_API_KEY' : isErrorType(result.type) ? result.type : 'INVALID_API_KEY';
  const error = new DisperslError(type);
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', ...rateLimitHeaders(result) };
  if (error.status === 401) headers['www-authenticate'] = 'Bearer realm="api"';
  if (error.status === 429) {
    const reset = result?.ratelimit ? Date.parse(result.ratelimit.reset_at) : Number.NaN;
    const retryAfter = type === 'CONCURRENCY_LIMIT_EXCEEDED' || !Number.isFinite(reset) ? 1 : Math.max(1, Math.ceil((reset - now) / 1000));
    headers['retry-after'] = String(retryAfter);
    error.details.retry_after = retryAfter;
  }
  return { status: error.status, headers, body: JSON.stringify(error.toEnvelope()) };
}

function rateLimitHeaders(result: VerifyResult | undefined): Record<string, string> {
  const window = result?.ratelimit;
  if (!window) return {};
  return {
    'x-ratelimit-limit': String(window.limit),
    'x-ratelimit-remaining': String(window.remaining),
    'x-ratelimit-reset': String(Math.ceil(Date.parse(window.reset_at) / 1000)),
  };
}

const INTERNAL = JSON.stringify(new DisperslError('INTERNAL_ERROR', 'The API key could not be verified').toEnvelope());

/**
 * Guards one request of Node's http server: verifies its key, answers the refusal itself (401, 403,
 * 429 with the rate-limit headers, 500 when the server cannot be asked), and releases a held lease
 * when the response ends or the client goes away.
 */
export function guardRequest(verifier: Verifier, options: GuardOptions = {}): (req: IncomingMessage, res: ServerResponse) => Promise<GuardOutcome> {
  const { ip = (req) => req.socket.remoteAddress, ...verifyOptions } = options;
  return async (req, res) => {
    const token = tokenOf(req.headers.authorization, req.headers['x-api-key'] as string | undefined);
    let result: VerifyResult | undefined;
    if (token !== undefined) {
      try {
        const address = ip(req);
        result = await verifier.verify(token, { ...verifyOptions, ...(address !== undefined && { ip: address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1') }) });
      } catch {
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(INTERNAL);
        return { ok: false, status: 500 };
      }
    }
    if (result?.valid) {
      for (const [name, value] of Object.entries(rateLimitHeaders(result))) res.setHeader(name, value);
      const lease = result.lease;
      if (lease) res.once('close', () => void verifier.release(lease.id).catch(() => {}));
      return { ok: true, result };
    }
    const answer = refusal(result);
    res.writeHead(answer.status, answer.headers).end(answer.body);
    return { ok: false, status: answer.status };
  };
}

/** Express (or Connect) middleware: sets `req.dispersl` to the verification and calls next(), or answers the refusal. */
export function expressGuard(verifier: Verifier, options: GuardOptions = {}) {
  const guard = guardRequest(verifier, options);
  return function disperslGuard(req: IncomingMessage & { dispersl?: VerifyResult }, res: ServerResponse, next: (err?: unknown) => void): void {
    guard(req, res).then((outcome) => {
      if (outcome.ok) {
        req.dispersl = outcome.result;
        next();
      }
    }, next);
  };
}

/** Hono middleware: `c.get('dispersl')` holds the verification; the lease is released once the handler has answered. */
export function honoGuard(verifier: Verifier, options: Omit<GuardOptions, 'ip'> & { ip?: (c: Parameters<MiddlewareHandler>[0]) => string | undefined } = {}): MiddlewareHandler {
  const { ip, ...verifyOptions } = options;
  return async function disperslGuard(c, next) {
    const token = tokenOf(c.req.header('authorization'), c.req.header('x-api-key'));
    let result: VerifyResult | undefined;
    if (token !== undefined) {
      try {
        const address = ip?.(c) ?? (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.remoteAddress;
        result = await verifier.verify(token, { ...verifyOptions, ...(address !== undefined && { ip: address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1') }) });
      } catch {
        return c.body(INTERNAL, 500, { 'content-type': 'application/json; charset=utf-8' });
      }
    }
    if (!result?.valid) {
      const answer = refusal(result);
      return c.body(answer.body, answer.status as 401, answer.headers);
    }
    c.set('dispersl' as never, result as never);
    try {
      await next();
      for (const [name, value] of Object.entries(rateLimitHeaders(result))) c.header(name, value);
    } finally {
      if (result.lease) await verifier.release(result.lease.id).catch(() => {});
    }
  };
}
