import { defineRoute } from '../route.js';
import { Health } from '../schemas.js';

export const healthzRoute = defineRoute({
  method: 'GET',
  path: '/healthz',
  operationId: 'healthz',
  summary: 'Liveness',
  description:
    'Answers 200 while the server is up and its database takes writes; 503 with status "unavailable" when it cannot write (a full disk, a read-only file), so a load balancer stops sending it requests it would fail. No key needed, nothing charged.',
  auth: false,
  status: 200,
  response: Health,
  async handle(c, { version, healthy }) {
    if (!(await healthy())) return c.json({ status: 'unavailable' as const, version, reason: 'the database cannot be written' }, 503);
    return c.json({ status: 'ok' as const, version }, 200);
  },
});
