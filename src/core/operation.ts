import type { z } from 'zod';
import type { Caller } from './auth.js';
import { type Permission, PERMISSIONS, hasPermission } from './model.js';
import { DisperslError, invalidRequest } from './errors.js';
import { issuesOf } from './schemas.js';
import type { KeyService, SealSecret } from './service.js';

/** How an operation's input travels in a REST request, besides path parameters (`:id`). */
export interface RestInput {
  /** In the query string; numbers and booleans are read from their text, the rest passed through for the schema to judge. */
  query?: { schema: z.ZodObject; numbers?: readonly string[]; booleans?: readonly string[]; defaults?: Record<string, unknown> };
  /** In a JSON object body. */
  body?: { schema: z.ZodType; required: boolean };
}

/** One REST route of an operation: what OpenAPI says of it, and how its body maps to the operation's result. */
export interface RestRoute<O = unknown> extends RestInput {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Hono pattern, e.g. /v1/keys/:id */
  path: string;
  operationId: string;
  summary: string;
  description: string;
  status: 200 | 201;
  /** The response body's schema. */
  response: z.ZodType;
  /** The response body for a result, when it is not the result itself. */
  toRest?(result: O): unknown;
  /** The result for a response body (remote mode): the inverse of toRest. */
  fromRest?(body: unknown): unknown;
}

/** What a model reads of the operation as an MCP tool. readOnlyHint follows from `write`; no tool reaches outside this service. */
export interface ToolSpec {
  name: string;
  title: string;
  description: string;
  destructive?: boolean;
  idempotent?: boolean;
}

/**
 * Asks the human before the operation runs, where the client can (MCP form elicitation): the form
 * shows the key the arguments name and what will happen. REST is never asked.
 */
export interface ConfirmRule<A = never> {
  /** Whether these (checked) arguments need confirming; absent: always. */
  when?(args: A): boolean;
  /** The action, as the form's title: "Revoke this key". */
  action: string;
  /** What happens, in words the human reads. */
  consequence(args: A): string;
  /** The key that authenticates the call may not be the target (revoke, disable): refused before asking. */
  notSelf?: boolean;
}

/**
 * One operation, declared once: the MCP tool, the REST routes, the clients (local, HTTP, remote),
 * tool visibility, permission checks and OpenAPI all follow from this entry.
 */
export interface Operation<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  input: I;
  output: O;
  /** What the caller's key must hold; null: any valid key. */
  permission: Permission | null;
  /** Changes keys: hidden from read-only MCP connections and refused by a read-only server. */
  write: boolean;
  tool: ToolSpec;
  /** Confirmed by the human first, where an MCP client can ask (see ConfirmRule). */
  confirm?: ConfirmRule<z.output<I>>;
  /** The result holds a new key's secret: no cache may keep the answer, and over MCP it may be delivered by a one-time reveal link instead. */
  secret?: true;
  /** The first route is the one remote mode calls. */
  rest: readonly [RestRoute<z.output<O>>, ...RestRoute<z.output<O>>[]];
  /** The service method, given input already checked against `input` by a caller holding `permission`; `reveal` reaches operations with `secret` only. */
  run(service: KeyService, caller: Caller, args: z.output<I>, reveal?: SealSecret): Promise<z.output<O>>;
}

export function defineOperation<I extends z.ZodType, O extends z.ZodType>(operation: Operation<I, O>): Operation<I, O> {
  return operation;
}

/** Input checked against a schema: the contract's INVALID_REQUEST naming each field, or the parsed value. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw invalidRequest(issuesOf(result.error));
  return result.data;
}

export function requirePermission(caller: Caller, permission: Permission | null): void {
  if (permission !== null && !hasPermission(caller.key.permissions, permission)) {
    throw new DisperslError('INSUFFICIENT_PERMISSIONS', `This action needs the ${permission} permission`, { required: [permission] });
  }
  if (permission === PERMISSIONS.write) requireNotRotated(caller);
}

/**
 * A rotated key lives on only so that its service can switch to the successor. If it was rotated
 * because it leaked, whoever holds it must not mint, rotate or change keys (its successor included).
 */
function requireNotRotated(caller: Caller): void {
  if (caller.key.rotated_to !== null) {
    throw new DisperslError(
      'INSUFFICIENT_PERMISSIONS',
      'This key has been rotated and works only until its grace period ends; a rotated key cannot create, revoke, rotate or update keys. Use the key it was rotated to.',
      { required: [PERMISSIONS.write], reason: 'key_rotated' },
    );
  }
}

/**
 * An operation for a caller: the permission first, then the input, then the service. `reveal` seals
 * the new secret of an operation with `secret` for a one-time reveal (see SealSecret).
 */
export function execute<I extends z.ZodType, O extends z.ZodType>(operation: Operation<I, O>, service: KeyService, caller: Caller, input: unknown, reveal?: SealSecret): Promise<z.output<O>> {
  try {
    requirePermission(caller, operation.permission);
    if (reveal !== undefined && operation.secret !== true) throw new Error(`${operation.tool.name} makes no secret to reveal`);
    return operation.run(service, caller, parseInput(operation.input, input), reveal);
  } catch (err) {
    return Promise.reject(err);
  }
}
