import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../../core/log.js';
import { type AppEnv, headerOf } from '../env.js';
import { containsSecret, redactPath } from '../../core/redact.js';

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

let sequence = 0;
const PREFIX = `${process.pid.toString(36)}-${Date.now().toString(36)}-`;

/** Cheap, unique within a process run, and sortable by arrival: enough to find a request in the log. */
function nextId(): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return PREFIX + sequence.toString(36);
}

/**
 * Gives each request an id (the client's X-Request-ID when it is a plain token, else a new one),
 * echoes it back, and writes one JSON access-log line per request: method, path (with /ot/<key> and
 * anything shaped like a key or token redacted), status, duration, the key's `start` when one was recognised, and the request id.
 */
export const requestLog = ({ logger }: { logger: Logger }): MiddlewareHandler<AppEnv> =>
  async function requestLog(c, next) {
    const started = performance.now();
    const given = headerOf(c, 'x-request-id');
    // A key pasted into X-Request-ID must not reach the log (or be echoed) as the request's id.
    const requestId = given !== undefined && CLIENT_ID.test(given) && !containsSecret(given) ? given : nextId();
    c.set('requestId', requestId);
    // Set before the response exists: setting a header on a finished response makes Hono rebuild it.
    c.header('X-Request-ID', requestId);
    await next();
    // With the access log off (DISPERSL_LOG_LEVEL=warn), the line is not even built: redacting the path costs.
    if (!logger.enabled('info')) return;
    logger.info('request', {
      request_id: requestId,
      method: c.req.method,
      path: redactPath(c.req.path),
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      key: c.get('keyStart') ?? null,
    });
  };
