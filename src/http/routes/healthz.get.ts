import { defineRoute } from '../route.js';
import { Health } from '../schemas.js';

export const healthzRoute = defineRoute({
  method: 'GET',
  path: '/healthz',
  operationId: 'healthz',
  summary: 'Liveness',
  description: 'Answers while the server is up. No key needed, nothing charged.',
  auth: false,
  status: 200,
  response: Health,
  handle(c, { version }) {
    return c.json({ status: 'ok' as const, version }, 200);
  },
});
