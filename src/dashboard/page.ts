import { gzipSync } from 'node:zlib';
import type { Context } from 'hono';
import type { Clock } from '../core/auth.js';
import { DisperslError, type Issue } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { OperationName, OperationResult } from '../core/operations/index.js';
import type { Reveals } from '../core/reveals.js';
import { type KeyService, type SealSecret, mayWrite } from '../core/service.js';
import type { Sessions } from '../core/sessions.js';
import type { DashboardContext } from './guard.js';

export interface DashboardDeps {
  sessions: Sessions;
  service: KeyService;
  /** Where a new key's secret waits, sealed, between the form that made it and the page that shows it once. */
  reveals: Reveals;
  /** Days of usage kept (DISPERSL_USAGE_DAYS): the daily chart shows 90 of them at most. */
  usageDays: number;
  /** A server started with --read-only: no write is offered or taken. */
  readOnly: boolean;
  /** DISPERSL_PUBLIC_URL, when the server sits behind a proxy: the origin forms must come from. */
  publicUrl: string | undefined;
  /** The server is bound to loopback: only loopback names (or the public URL's) are taken as Host. */
  loopbackBind: boolean;
  /** Cookies carry Secure (the public URL is https). */
  secure: boolean;
  clock: Clock;
  logger: Logger;
}

/** A client that takes gzip (and did not refuse it with q=0). */
export function acceptsGzip(c: Context): boolean {
  const accepted = c.req.header('accept-encoding') ?? '';
  return /\bgzip\b/.test(accepted) && !/\bgzip\s*;\s*q=0(\.0*)?\s*(,|$)/.test(accepted);
}

/**
 * An HTML page: Hono's JSX renders and escapes; the doctype is ours. Compressed in one call rather
 * than through a stream: a page is a few kilobytes, already whole, and a CompressionStream per page
 * costs as much as rendering it.
 */
export function render(c: DashboardContext, page: unknown, status: 200 | 400 | 403 | 404 | 409 | 429 | 500 = 200): Response {
  const html = `<!doctype html>${String(page)}`;
  c.header('Vary', 'Accept-Encoding');
  if (html.length < 1024 || !acceptsGzip(c)) return c.html(html, status);
  return c.body(gzipSync(html), status, { 'Content-Type': 'text/html; charset=UTF-8', 'Content-Encoding': 'gzip' });
}

/** Whether this page may offer writes at all: the server is not read-only and the signed-in key may create and change keys. */
export function writable(c: DashboardContext, deps: DashboardDeps): boolean {
  return !deps.readOnly && mayWrite(c.get('session').caller);
}

/** An operation as the signed-in key, uncharged: the same checks, rules and audit trail as over REST or MCP. */
export function run<N extends OperationName>(c: DashboardContext, deps: DashboardDeps, name: N, input?: unknown, reveal?: SealSecret): Promise<OperationResult<N>> {
  return deps.service.execute(name, c.get('session').caller, input, reveal);
}

/** The result, or undefined where the core refused (unknown key, not permitted); any other failure still fails the page. */
export async function unlessRefused<T>(promise: Promise<T>): Promise<T | undefined> {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof DisperslError) return undefined;
    throw err;
  }
}

/** The result; or, where the core refused, the fallback and the problem the page shows instead. */
export async function orProblem<T>(promise: Promise<T>, fallback: T): Promise<{ value: T; problem?: FormProblem | undefined }> {
  try {
    return { value: await promise };
  } catch (err) {
    return { value: fallback, problem: problemOf(err) };
  }
}

/** What a failed form shows: the contract's message and, for invalid input, each field's problem. */
export interface FormProblem {
  message: string;
  issues?: Issue[] | undefined;
  status: 400 | 403 | 404 | 409 | 429;
}

/**
 * A typed error of the core as a form problem; anything else is not the user's to read, and rethrown.
 * A page answers 400 where REST would answer 401 or 413: the browser is signed in, the input is the problem.
 */
export function problemOf(err: unknown): FormProblem {
  if (!(err instanceof DisperslError)) throw err;
  const issues = (err.details as { issues?: Issue[] }).issues;
  const status = ([400, 403, 404, 409, 429] as const).find((s) => s === err.status) ?? 400;
  return { message: err.message, issues, status };
}

/**
 * A list page's filters as its query string gives them (blank where absent), the ones set (for the
 * next page's link) and the operation's input: those, a page of 50 and the cursor, if any.
 */
export function listQuery<K extends string>(c: DashboardContext, names: readonly K[]): { filters: Record<K, string>; query: URLSearchParams; input: Record<string, unknown> } {
  const q = c.req.query();
  const filters = Object.fromEntries(names.map((name) => [name, q[name] ?? ''])) as Record<K, string>;
  const query = new URLSearchParams(Object.entries<string>(filters).filter(([, v]) => v !== ''));
  return { filters, query, input: { limit: 50, ...Object.fromEntries(query), ...(q.cursor && { cursor: q.cursor }) } };
}

/** A form's text fields (files are not taken). */
export async function formOf(c: DashboardContext): Promise<Record<string, string | string[]>> {
  const body = await c.req.parseBody({ all: true });
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(body)) {
    if (typeof value === 'string') fields[name] = value;
    else if (Array.isArray(value)) fields[name] = value.filter((v): v is string => typeof v === 'string');
  }
  return fields;
}

export function field(form: Record<string, string | string[]>, name: string): string {
  const value = form[name];
  return (Array.isArray(value) ? value[0] : value)?.trim() ?? '';
}
