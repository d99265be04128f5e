import { z } from 'zod';
import { KeyId } from '../core/schemas.js';
import { LeaseId } from '../core/verify.js';
import type { Route } from './route.js';
import { INPUT_SCHEMAS, OUTPUT_SCHEMAS } from './schemas.js';

type Json = Record<string, unknown>;

function components(schemas: Map<z.ZodType, string>, io: 'input' | 'output'): Json {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of schemas) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, { io, unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` }) as { schemas: Json };
  return Object.fromEntries(Object.entries(out).map(([id, schema]) => [id, strip(schema as Json)]));
}

function strip(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function inline(schema: z.ZodType, io: 'input' | 'output'): Json {
  return strip(z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json);
}

function ref(schema: z.ZodType, names: Map<z.ZodType, string>, io: 'input' | 'output'): Json {
  const name = names.get(schema);
  return name ? { $ref: `#/components/schemas/${name}` } : inline(schema, io);
}

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'INVALID_REQUEST: the input is invalid (details.issues names each field and why).',
  '401': 'MISSING_API_KEY, INVALID_API_KEY, EXPIRED_API_KEY, REVOKED_API_KEY or DISABLED_API_KEY. Carries WWW-Authenticate: Bearer.',
  '403': 'IP_NOT_ALLOWED, INSUFFICIENT_PERMISSIONS (details.required) or ORGANIZATION_FORBIDDEN (X-Organization-ID does not match the key).',
  '404': "NOT_FOUND: no such key in your organization (another organization's key answers the same).",
  '409': 'CANNOT_REVOKE_SELF: the calling key cannot revoke or disable itself; rotate it instead.',
  '413': 'PAYLOAD_TOO_LARGE.',
  '429': 'RATE_LIMIT_EXCEEDED or CONCURRENCY_LIMIT_EXCEEDED. Carries Retry-After.',
};

const RATE_HEADERS: Json = {
  'X-RateLimit-Limit': { description: 'Requests allowed in the window that binds this key.', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in that window.', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'When that window resets, in epoch seconds.', schema: { type: 'integer' } },
  'RateLimit-Policy': { description: 'IETF draft field, e.g. "hourly";q=1000;w=3600.', schema: { type: 'string' } },
  RateLimit: { description: 'IETF draft field, e.g. "hourly";r=998;t=1800 (t: seconds to reset).', schema: { type: 'string' } },
};

function errorsOf(route: Route): string[] {
  if (!route.auth) return [];
  const codes = ['401', '403', '429'];
  if (route.body || route.query || route.path.includes(':id')) codes.push('400');
  if (route.path.includes(':id')) codes.push('404');
  if (route.method === 'DELETE' || route.method === 'PATCH') codes.push('409');
  if (route.body) codes.push('413');
  return codes.sort();
}

function operation(route: Route): Json {
  const parameters: Json[] = route.auth ? [{ $ref: '#/components/parameters/organization' }] : [];
  if (route.path.includes(':id')) parameters.push({ name: 'id', in: 'path', required: true, schema: inline(route.path.startsWith('/v1/leases/') ? LeaseId : KeyId, 'input') });
  for (const [name, field] of Object.entries(route.query?.shape ?? {}) as Array<[string, z.ZodType]>) {
    const schema = inline(field, 'input');
    const { description, ...rest } = schema;
    parameters.push({ name, in: 'query', required: !field.safeParse(undefined).success, ...(description !== undefined && { description }), schema: rest });
  }
  const responses: Json = {
    [String(route.status)]: {
      description: route.summary,
      ...(route.auth && { headers: RATE_HEADERS }),
      content: { 'application/json': { schema: ref(route.response, OUTPUT_SCHEMAS, 'output') } },
    },
  };
  for (const code of errorsOf(route)) {
    responses[code] = { description: ERROR_RESPONSES[code], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: route.permission ? `${route.description} Needs ${route.permission}.` : route.description,
    ...(route.auth ? {} : { security: [] }),
    ...(parameters.length > 0 && { parameters }),
    ...(route.body && {
      requestBody: {
        required: route.bodyRequired === true,
        content: { [route.bodyType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json']: { schema: ref(route.body, INPUT_SCHEMAS, 'input') } },
      },
    }),
    responses,
  };
}

/** OpenAPI 3.1 for the REST routes, from the zod schemas they validate with. */
export function buildOpenApi(routes: readonly Route[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'dispersl-mcp',
      version,
      description:
        'API keys for Dispersl. Every authenticated call costs one request of the key\'s quota, shared with MCP tool calls. Errors use one envelope: {"error": {"code", "type", "message", "details"}}.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer pk_live_…' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      parameters: {
        organization: {
          name: 'X-Organization-ID',
          in: 'header',
          required: false,
          description: 'When sent, must be the organization of the key (else 403 ORGANIZATION_FORBIDDEN).',
          schema: { type: 'string' },
        },
      },
      schemas: { ...components(OUTPUT_SCHEMAS, 'output'), ...components(INPUT_SCHEMAS, 'input') },
    },
  };
}
