import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { Caller } from '../core/auth.js';

/** What a request carries through the middleware chain. */
export interface AppVariables {
  requestId: string;
  /** The admitted caller of an authenticated REST request. */
  caller: Caller;
  /** The caller key's `start`, the only part of a key a log line may show. */
  keyStart: string;
  /** The client's address, where trusted proxies forward it (else the TCP peer's, read where needed). */
  clientIp: string;
}

/** @hono/node-server passes the raw request and response; `app.request()` in tests passes nothing (or a stub). */
export interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

export interface AppEnv {
  Bindings: NodeBindings;
  Variables: AppVariables;
}

export type AppContext = Context<AppEnv>;

/** The Node request behind a context, when there is one (not under `app.request()` without bindings). */
export function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as NodeBindings | undefined)?.incoming;
}

export function outgoingOf(c: AppContext): ServerResponse | undefined {
  return (c.env as NodeBindings | undefined)?.outgoing;
}

/**
 * A request header by lower-case name. Under @hono/node-server it reads Node's parsed headers:
 * `c.req.header()` would first build a web Headers object of all of them, for each request.
 */
export function headerOf(c: AppContext, name: string): string | undefined {
  const incoming = incomingOf(c);
  if (incoming === undefined) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
