import type { Handler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Admission, Caller, Clock, Credential, Gate } from '../core/auth.js';
import { type DisperslError, asDisperslError, causeOf } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { redactPath } from '../core/redact.js';
import type { KeyService } from '../core/service.js';
import { type Route, batchHasModern, classify, headerVersionRoute } from '../mcp/eras.js';
import { type ModernDispatcher, humanOf } from '../mcp/modern.js';
import { asksFirst } from '../mcp/tool.js';
import { JSONRPC, type McpDispatcher, isWriteTool } from '../mcp/protocol.js';
import { SNAPSHOT } from '../mcp/snapshot.js';
import { hasJsonContentType, parseJson, readBody } from './body.js';
import { credentialOf, headerToken, startOf } from './credential.js';
import { type AppContext, type AppEnv, headerOf } from './env.js';
import { HttpKeyApi } from './mcp-api.js';
import { wwwAuthenticate } from './middleware/errors.js';
import { setRateLimitHeaders } from './ratelimit.js';

/**
 * MCP over Streamable HTTP, stateless: every POST carries its credential and is answered with
 * application/json, so no session, server or transport is kept or built per request. The one
 * process-wide McpDispatcher answers each message with the caller as a per-request context.
 */

export interface McpOptions {
  gate: Gate;
  service: KeyService;
  dispatcher: McpDispatcher;
  /** Serves 2026-07-28 requests over the same tools. */
  modern: ModernDispatcher;
  clock: Clock;
  bodyLimit: number;
  maxDepth: number;
  /** Where a failure of our own (INTERNAL_ERROR before dispatch) is logged with its cause. */
  logger?: Logger;
}

export interface EndpointOptions {
  /** /mcp takes the key from the headers; /ot/<key> from the path. */
  keyFrom: 'header' | 'path';
  readOnly: boolean;
}

/** JSON-RPC's server-error range, for failures the transport reports before any message is handled. */
export const RPC = { REFUSED: -32000, UNAUTHORIZED: -32001 } as const;
const MAX_BATCH = 100;
const TOOL_NAMES = new Set(SNAPSHOT.map((tool) => tool.name));

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function rpcFailure(c: AppContext, status: ContentfulStatusCode, code: number, message: string, data?: unknown): Response {
  return c.json({ jsonrpc: '2.0', id: null, error: { code, message, ...(data !== undefined && { data }) } }, status);
}

/** A contract error before dispatch: its HTTP status, and the envelope as the JSON-RPC error's data. */
function failure(c: AppContext, error: DisperslError): Response {
  if (error.status === 401) c.header('WWW-Authenticate', wwwAuthenticate(error));
  if (error.type === 'PAYLOAD_TOO_LARGE') c.header('Connection', 'close');
  const code = error.status === 401 || error.status === 403 ? RPC.UNAUTHORIZED : error.status < 500 ? JSONRPC.INVALID_REQUEST : JSONRPC.INTERNAL_ERROR;
  return rpcFailure(c, error.status as ContentfulStatusCode, code, error.message, error.toEnvelope().error);
}

/**
 * A single tools/call the dispatcher will hand to a tool. Such a request is admitted (and charged)
 * up front: one pass through the gate authenticates it and pays for the call. Anything else is
 * only peeked at, which costs nothing, exactly as over stdio.
 */
function isChargedCall(message: unknown, readOnly: boolean, mayAsk: boolean): boolean {
  if (!isObject(message) || message.jsonrpc !== '2.0' || message.method !== 'tools/call') return false;
  if (typeof message.id !== 'string' && typeof message.id !== 'number') return false;
  const params = message.params;
  if (!isObject(params) || typeof params.name !== 'string' || !TOOL_NAMES.has(params.name)) return false;
  if (readOnly && isWriteTool(params.name)) return false;
  // A later round of a multi round-trip call, or one that may ask the human first, is peeked: whichever
  // round runs the operation pays for it then, so the whole call costs one request and a declined one none.
  if (params.requestState !== undefined || (mayAsk && asksFirst(params.name, params.arguments))) return false;
  return params.arguments === undefined || isObject(params.arguments);
}

async function authenticate(options: McpOptions, credential: Credential, charge: boolean): Promise<{ known?: Caller; admitted?: Admission }> {
  if (charge) {
    try {
      return { admitted: await options.gate.admit(credential) };
    } catch (err) {
      // Over the limit: the tool call itself reports it, as a tool error, like over stdio.
      if (asDisperslError(err).status !== 429) throw err;
    }
  }
  return { known: await options.gate.peek(credential) };
}

export function mcpEndpoint(options: McpOptions, { keyFrom, readOnly }: EndpointOptions): Handler<AppEnv> {
  const { dispatcher, modern, gate, service } = options;
  return async function mcp(c) {
    // generate_key and rotate_key answer with a secret: no MCP answer may be kept by a cache.
    c.header('Cache-Control', 'no-store');
    const version = headerOf(c, 'mcp-protocol-version');
    if (!hasJsonContentType(c)) return rpcFailure(c, 415, JSONRPC.INVALID_REQUEST, 'Unsupported Media Type: send JSON-RPC as application/json');

    let text: string;
    try {
      text = await readBody(c, options.bodyLimit);
    } catch (err) {
      return failure(c, asDisperslError(err));
    }
    const parsed = parseJson(text, options.maxDepth);
    // Which era a lone message speaks (body first, headers cross-checked); a batch is legacy or refused.
    const route: Route | undefined = parsed.ok && !Array.isArray(parsed.value) ? classify(parsed.value, standardHeaders(c)) : undefined;
    const credential = credentialOf(c, keyFrom === 'path' ? c.req.param('key') : headerToken(c));
    let auth: { known?: Caller; admitted?: Admission };
    try {
      // Every request, initialize included, needs a valid key; a bad key is refused before a bad body.
      const mayAsk = route?.era === 'modern' && humanOf(route.envelope).form;
      auth = await authenticate(options, credential, parsed.ok && route?.era !== 'reject' && isChargedCall(parsed.value, readOnly, mayAsk));
    } catch (err) {
      const start = startOf(credential.token);
      if (start !== undefined) c.set('keyStart', start);
      const error = asDisperslError(err);
      if (error.type === 'INTERNAL_ERROR') options.logger?.error('request failed', { request_id: c.get('requestId'), path: redactPath(c.req.path), ...causeOf(err) });
      return failure(c, error);
    }
    const caller = (auth.admitted?.caller ?? auth.known)!;
    c.set('keyStart', caller.key.start);
    const api = new HttpKeyApi(gate, service, credential, auth.known, auth.admitted);
    try {
      if (!parsed.ok) {
        return parsed.reason === 'syntax'
          ? rpcFailure(c, 400, JSONRPC.PARSE_ERROR, 'Parse error: the body is not valid JSON')
          : rpcFailure(c, 400, JSONRPC.INVALID_REQUEST, `Invalid Request: ${parsed.error.message}`);
      }
      const batch = Array.isArray(parsed.value) ? parsed.value : undefined;
      if (batch !== undefined && (batch.length === 0 || batch.length > MAX_BATCH)) {
        return rpcFailure(c, 400, JSONRPC.INVALID_REQUEST, `Invalid Request: a batch holds 1 to ${MAX_BATCH} messages`);
      }
      const early = eraFailure(c, parsed.value, route, batch, version);
      if (early !== undefined) return early;
      const context = { api, readOnly, principal: caller.key.id };
      if (route?.era === 'modern') {
        const { response, status } = await modern.handle(parsed.value as Record<string, unknown>, route.envelope, context);
        setRateLimitHeaders(c, api.window, options.clock());
        return response === undefined ? c.body(null, 202) : c.json(response, status as ContentfulStatusCode);
      }
      const answers = batch ? await Promise.all(batch.map((m) => dispatcher.handle(m, context))) : [await dispatcher.handle(parsed.value, context)];
      setRateLimitHeaders(c, api.window, options.clock());
      const results = answers.filter((answer) => answer !== undefined);
      // Only notifications and responses: accepted, nothing to answer.
      if (results.length === 0) return c.body(null, 202);
      return c.json(batch ? results : results[0], 200);
    } finally {
      api.release();
    }
  };
}

function standardHeaders(c: AppContext) {
  return { protocolVersion: headerOf(c, 'mcp-protocol-version'), method: headerOf(c, 'mcp-method'), name: headerOf(c, 'mcp-name') };
}

/**
 * The era's own refusals, answered before dispatch with the request's id: a lone message the revision
 * rejects, a batch holding 2026-07-28 messages (that revision has no batches), or legacy traffic naming
 * a protocol version this server does not speak.
 */
function eraFailure(c: AppContext, message: unknown, route: Route | undefined, batch: unknown[] | undefined, version: string | undefined): Response | undefined {
  const id = isObject(message) && (typeof message.id === 'string' || typeof message.id === 'number') ? message.id : undefined;
  // A lone message was classified with its headers; a batch has only the header to go by.
  const checked = route ?? headerVersionRoute(version);
  if (checked.era === 'reject') {
    const { status, code, message: text, data } = checked.rejection;
    // The 2026-07-28 schema has no null id: an error without a request id leaves it out.
    return c.json({ jsonrpc: '2.0', ...(id !== undefined && { id }), error: { code, message: text, ...(data !== undefined && { data }) } }, status as ContentfulStatusCode);
  }
  if (batch !== undefined && batchHasModern(batch)) {
    return rpcFailure(c, 400, JSONRPC.INVALID_REQUEST, 'Invalid Request: a batch may not hold 2026-07-28 requests');
  }
  return undefined;
}

/** GET (a server-sent event stream) and DELETE (ending a session) have no meaning on a stateless server. */
export function mcpMethodNotAllowed(): Handler<AppEnv> {
  return function mcpMethodNotAllowed(c) {
    c.header('Allow', 'POST');
    return rpcFailure(c, 405, RPC.REFUSED, 'Method Not Allowed: this server is stateless and answers POST only');
  };
}
