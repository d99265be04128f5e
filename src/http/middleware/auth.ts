import type { MiddlewareHandler } from 'hono';
import type { Clock, Gate } from '../../core/auth.js';
import { asDisperslError } from '../../core/errors.js';
import { credentialOf, startOf } from '../credential.js';
import { type AppEnv, outgoingOf } from '../env.js';
import { setRateLimitHeaders } from '../ratelimit.js';

export interface AuthOptions {
  gate: Gate;
  clock?: Clock;
}

/**
 * REST authentication: the credential passes the gate, which charges one request. The admission
 * (the caller's concurrency slot) is held until the response has been sent, the handler failed, or
 * the client went away, so in-flight requests are what the concurrency limit counts.
 */
export const authenticate = ({ gate, clock = Date.now }: AuthOptions): MiddlewareHandler<AppEnv> =>
  async function authenticate(c, next) {
    const credential = credentialOf(c);
    let admission;
    try {
      admission = await gate.admit(credential);
    } catch (err) {
      const error = asDisperslError(err);
      const start = startOf(credential.token);
      if (start !== undefined) c.set('keyStart', start);
      if (error.status === 429) {
        // A 429 costs nothing, so the window can be read for its headers without charging anything.
        const caller = await gate.peek(credential).catch(() => undefined);
        setRateLimitHeaders(c, caller?.window, clock());
      }
      throw error;
    }
    const { caller, release } = admission;
    c.set('caller', caller);
    c.set('keyStart', caller.key.start);
    setRateLimitHeaders(c, caller.window, clock());
    const outgoing = outgoingOf(c);
    if (outgoing === undefined) {
      try {
        await next();
      } finally {
        release();
      }
      return;
    }
    // 'close' follows the last byte of the response, or the connection dropping, whichever comes first.
    outgoing.once('close', release);
    try {
      await next();
    } catch (err) {
      release();
      throw err;
    }
  };
