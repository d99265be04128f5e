import { z } from 'zod';
import { defineRoute } from '../route.js';

export const openapiRoute = defineRoute({
  method: 'GET',
  path: '/v1/openapi.json',
  operationId: 'openapi',
  summary: 'This API as OpenAPI 3.1',
  description: 'Generated from the same zod schemas the routes and MCP tools validate with. No key needed.',
  auth: false,
  status: 200,
  response: z.looseObject({}),
  handle(c, { openapi }) {
    return c.json(openapi(), 200);
  },
});
