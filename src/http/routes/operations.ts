import { operationList } from '../../core/operations/index.js';
import { jsonObjectBody } from '../body.js';
import { noStore } from '../middleware/security-headers.js';
import { queryInput } from '../query.js';
import { type Route, defineRoute } from '../route.js';

/**
 * The REST routes of every operation in src/core/operations: the input gathered from the query,
 * the body and the path (which wins), the operation run for the admitted caller, the result mapped
 * to the route's REST shape.
 */
export const OPERATION_ROUTES: readonly Route[] = operationList().flatMap(([name, operation]) =>
  operation.rest.map((rest) =>
    defineRoute({
      method: rest.method,
      path: rest.path,
      operationId: rest.operationId,
      summary: rest.summary,
      description: rest.description,
      auth: true,
      write: operation.write,
      permission: operation.permission,
      query: rest.query?.schema,
      body: rest.body?.schema,
      bodyRequired: rest.body?.required,
      status: rest.status,
      response: rest.response,
      async handle(c, { service, bodyLimit, maxDepth }) {
        const query = rest.query && { ...rest.query.defaults, ...queryInput(c, rest.query) };
        const body = rest.body && (await jsonObjectBody(c, bodyLimit, maxDepth, !rest.body.required));
        const result = await service.execute(name, c.get('caller'), { ...query, ...body, ...c.req.param() });
        if (operation.secret) noStore(c);
        return c.json(rest.toRest ? rest.toRest(result as never) : result, rest.status);
      },
    }),
  ),
);
