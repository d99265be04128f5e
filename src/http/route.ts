import type { z } from 'zod';
import type { Reveals } from '../core/reveals.js';
import type { Gate } from '../core/auth.js';
import type { KeyService } from '../core/service.js';
import type { ClientCredentialsDeps } from '../oauth/client-credentials.js';
import type { AppContext } from './env.js';

export interface RouteDeps {
  service: KeyService;
  gate: Gate;
  bodyLimit: number;
  maxDepth: number;
  version: string;
  /** The OpenAPI document, built once on first use. */
  openapi(): Record<string, unknown>;
  /** OAuth 2.0 client credentials and its discovery documents, when the server offers them. */
  oauth?: ClientCredentialsDeps | undefined;
  /** Whether the database takes a write now (for /healthz). */
  healthy(): Promise<boolean>;
  /** Secret delivery by reveal: where secrets wait, and the page URL of a code. */
  reveals?: { reveals: Reveals; url(code: string): string } | undefined;
}

/** One HTTP route: what OpenAPI says of it, and its handler. Every surface of the app is one of these but the MCP endpoints. */
export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Hono pattern, e.g. /v1/keys/:id */
  path: string;
  operationId: string;
  summary: string;
  description: string;
  /** Needs a key (and is charged one request). */
  auth: boolean;
  /** false: the route authenticates its key itself, without charging it (verify, lease release). */
  charged?: false;
  /** Changes keys: refused by a server started with --read-only. */
  write?: boolean;
  /** The permission the operation needs, for the docs. */
  permission?: string | null;
  query?: z.ZodObject;
  body?: z.ZodType;
  bodyRequired?: boolean;
  /** The body's media type (default JSON). */
  bodyType?: 'json' | 'form';
  status: 200 | 201;
  response: z.ZodType;
  /** Served only when this says so (the OAuth routes, when OAuth is on). */
  enabled?(deps: RouteDeps): boolean;
  handle(c: AppContext, deps: RouteDeps): Response | Promise<Response>;
}

export function defineRoute(route: Route): Route {
  return route;
}
