import type { MiddlewareHandler } from 'hono';
import { DisperslError } from '../../core/errors.js';
import type { AppEnv } from '../env.js';

/** A server started with --read-only refuses every route that changes keys, as its MCP endpoints hide the write tools. */
export const refuseWrites = (): MiddlewareHandler<AppEnv> =>
  async function refuseWrites() {
    throw new DisperslError('INSUFFICIENT_PERMISSIONS', 'This server is read-only: it does not change keys', { required: ['keys:write'], read_only: true });
  };
