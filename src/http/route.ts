import type { z } from 'zod';
import type { KeyService } from '../core/service.js';
import type { AppContext } from './env.js';

export interface RouteDeps {
  service: KeyService;
  bodyLimit: number;
  maxDepth: number;
  version: string;
  /** The OpenAPI document, built once on first use. */
  openapi(): Record<string, unknown>;
  /** Whether the database takes a write now (for /healthz). */
  healthy(): boolean;
}

/** One REST route: what OpenAPI says of it, and its handler (validate, call one service method, map the result). */
export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Hono pattern, e.g. /v1/keys/:id */
  path: string;
  operationId: string;
  summary: string;
  description: string;
  /** Needs a key (and is charged one request). */
  auth: boolean;
  /** Changes keys: refused by a server started with --read-only. */
  write?: boolean;
  /** The permission the service checks, for the docs. */
  permission?: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  bodyRequired?: boolean;
  status: 200 | 201;
  response: z.ZodType;
  handle(c: AppContext, deps: RouteDeps): Response | Promise<Response>;
}

export function defineRoute(route: Route): Route {
  return route;
}
