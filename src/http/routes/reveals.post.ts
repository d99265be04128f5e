import { z } from 'zod';
import { DisperslError } from '../../core/errors.js';
import { requirePermission } from '../../core/operation.js';
import { jsonObjectBody } from '../body.js';
import { defineRoute } from '../route.js';

const DepositBody = z.object({ secret: z.string().min(1).max(200).describe('A key token of your organization, fresh from generate or rotate.') }).strict();
const Deposited = z.object({
  code: z.string().describe('The one-time code.'),
  url: z.string().describe('The page that shows the secret once.'),
  expires_at: z.string(),
});

/**
 * Remote mode's secret delivery by reveal: the stdio server hands the new secret it just received to
 * the server, which keeps it sealed for one reveal. Only a key of the caller's own organization is
 * taken, so the endpoint cannot be used to park arbitrary text behind a link.
 */
export const revealsPostRoute = defineRoute({
  method: 'POST',
  path: '/v1/reveals',
  operationId: 'createReveal',
  summary: 'Deposit a new secret for a one-time reveal',
  description: 'Keeps a key token of your organization sealed for 10 minutes, to be shown once at url (or by `dispersl-mcp reveal <code>`). Used by remote mode with secret delivery reveal.',
  auth: true,
  write: true,
  permission: 'keys:write',
  body: DepositBody,
  bodyRequired: true,
  status: 201,
  response: Deposited,
  enabled: (deps) => deps.reveals !== undefined,
  async handle(c, { service, bodyLimit, maxDepth, reveals }) {
    const caller = c.get('caller');
    requirePermission(caller, 'keys:write');
    const parsed = DepositBody.safeParse(await jsonObjectBody(c, bodyLimit, maxDepth, false));
    if (!parsed.success) throw new DisperslError('INVALID_REQUEST', 'secret: must be a key token', { issues: [{ path: 'secret', message: 'must be a key token' }] });
    if ((await service.keyIdOfSecret(caller, parsed.data.secret)) === undefined) {
      throw new DisperslError('INVALID_REQUEST', 'secret: is not a key of your organization', { issues: [{ path: 'secret', message: 'is not a key of your organization' }] });
    }
    const { code, expires_at } = await reveals!.reveals.deposit(parsed.data.secret);
    return c.json({ code, url: reveals!.url(code), expires_at: new Date(expires_at).toISOString() }, 201);
  },
});
