import type { MiddlewareHandler } from 'hono';
import { declaredTooLarge, tooLarge } from '../body.js';
import type { AppEnv } from '../env.js';

/**
 * Refuses a body whose declared length is over the limit before anything else runs (no key is
 * looked up, nothing is charged). Bodies sent without a length are held to the same limit as they
 * are read (readBody).
 */
export const bodyLimit = ({ limit }: { limit: number }): MiddlewareHandler<AppEnv> =>
  async function bodyLimit(c, next) {
    if (declaredTooLarge(c, limit)) throw tooLarge(limit);
    await next();
  };
