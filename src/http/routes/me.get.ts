import { Whoami } from '../../core/schemas.js';
import { defineRoute } from '../route.js';

export const meRoute = defineRoute({
  method: 'GET',
  path: '/v1/me',
  operationId: 'whoami',
  summary: 'Who am I',
  description: 'The organization and key of the caller, with its limits: the hourly quota (after this request) and concurrent requests.',
  auth: true,
  status: 200,
  response: Whoami,
  handle(c, { service }) {
    return c.json(service.whoami(c.get('caller')), 200);
  },
});
