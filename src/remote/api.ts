import type { KeyApi } from '../core/api.js';
import { DisperslError, invalidRequest } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { type Operation, type RestRoute, parseInput } from '../core/operation.js';
import { OPERATIONS, type OperationName, type OperationResult } from '../core/operations/index.js';
import type { KeyView } from '../core/schemas.js';
import type { SealSecret } from '../core/service.js';
import { isLoopbackHost, parseBaseUrl } from './base-url.js';
import { RestClient } from './rest-client.js';
import { probePermissions } from './permissions.js';

export interface RemoteOptions {
  /** DISPERSL_BASE_URL, e.g. http://127.0.0.1:8787/v1. */
  baseUrl: string | URL;
  apiKey: string | undefined;
  logger: Logger;
  timeoutMs?: number | undefined;
  userAgent?: string | undefined;
}

/** A key id as one path segment: encoded, dots included, so no id can climb to another route. */
function segment(id: string): string {
  return encodeURIComponent(id).replace(/\./g, '%2E');
}

/** The path of a route with its `:param`s filled from args, each one encoded segment. */
function fill(path: string, args: Record<string, unknown>): string {
  return path.replace(/:(\w+)/g, (_, name: string) => segment(String(args[name])));
}

/**
 * Where a call's arguments go. Without a body, every argument travels in the URL, which cannot carry
 * a wrong type or an unknown field: they are checked here with the very schema the server uses, so
 * the error is the one local mode gives. With a body, a string id goes into the URL, encoded, for the
 * server to judge with the rest; anything else cannot be put in a URL, so the schema answers here.
 */
function requestOf(operation: Operation, route: RestRoute, input: unknown): { path: string; body?: unknown } {
  const params = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  if (route.body === undefined) {
    const args = parseInput(operation.input, input) as Record<string, unknown>;
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(args)) if (value !== undefined && !params.includes(name)) query.set(name, String(value));
    const search = query.size > 0 ? `?${query.toString()}` : '';
    return { path: `${fill(route.path, args)}${search}` };
  }
  if (params.length === 0) return { path: route.path, body: input ?? {} };
  const raw = (input ?? {}) as Record<string, unknown>;
  const body = { ...raw };
  for (const name of params) {
    if (typeof raw[name] !== 'string') {
      parseInput(operation.input, input);
      throw invalidRequest([{ path: name, message: 'must be a key id like key_…' }]);
    }
    delete body[name];
  }
  return { path: fill(route.path, raw), body };
}

/**
 * The KeyApi over a dispersl-mcp server's REST API (remote mode): no database, the same results.
 * REST shapes are mapped back to exactly the MCP results of local mode; the server's error envelopes
 * come back unchanged. Arguments travelling in a JSON body are validated by the server only, so its
 * errors are the model's; arguments that travel in the URL (list's query, a key id) are checked here
 * with the very same schema first, because a URL cannot carry a wrong type or an unknown field.
 */
export class RemoteKeyApi implements KeyApi {
  private readonly client: RestClient;
  private readonly apiKey: string | undefined;
  private knownPermissions: readonly string[] | undefined;

  constructor(options: RemoteOptions) {
    const url = typeof options.baseUrl === 'string' ? parseBaseUrl(options.baseUrl) : options.baseUrl;
    this.apiKey = options.apiKey;
    this.client = new RestClient({ baseUrl: url, apiKey: options.apiKey, timeoutMs: options.timeoutMs, userAgent: options.userAgent });
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      options.logger.warn('DISPERSL_BASE_URL is plain http to another machine: the API key crosses the network unencrypted; use https', {
        base_url: this.client.base,
      });
    }
  }

  async call<N extends OperationName>(name: N, input?: unknown, reveal?: SealSecret): Promise<OperationResult<N>> {
    // No database here to seal into: a secret delivered by reveal is deposited on the server afterwards (deposit).
    if (reveal !== undefined) throw new Error('remote mode cannot seal a secret in the key’s transaction');
    this.requireKey();
    const operation = OPERATIONS[name] as unknown as Operation;
    const [route] = operation.rest;
    const { path, body } = requestOf(operation, route, input);
    const url = this.client.api(path.replace(/^\/v1/, ''));
    const answer = await this.client.call({ method: route.method, path: url, body });
    const result = route.fromRest ? route.fromRest(answer) : answer;
    // Returned as sent, once it has the contract's shape, so nothing is dropped or reordered.
    if (!operation.output.safeParse(result).success) throw this.client.unexpected({ method: route.method, path: url });
    return result as OperationResult<N>;
  }

  /** The key a confirmation shows: the server's GET /v1/keys/{id} (one request of its quota). */
  async preview(_name: OperationName, input?: unknown): Promise<KeyView> {
    const id = (input as { id?: unknown } | undefined)?.id;
    return this.call('getKey', { id });
  }

  /** Secret delivery by reveal in remote mode: the server keeps the secret for one reveal on its page. */
  async deposit(secret: string): Promise<{ code: string; expires_at: number; url: string }> {
    this.requireKey();
    const path = this.client.api('/reveals');
    const answer = (await this.client.call({ method: 'POST', path, body: { secret } })) as { code?: unknown; url?: unknown; expires_at?: unknown };
    if (typeof answer.code !== 'string' || typeof answer.url !== 'string' || typeof answer.expires_at !== 'string') throw this.client.unexpected({ method: 'POST', path });
    return { code: answer.code, url: answer.url, expires_at: Date.parse(answer.expires_at) };
  }

  /**
   * What the server's own MCP tools/list shows this key, which costs no request of its quota; so a
   * key without keys:write sees only the read tools, as in local mode. Undefined (every tool shown,
   * the server enforcing permissions) when that cannot be learned.
   */
  async permissions(): Promise<readonly string[] | undefined> {
    if (this.knownPermissions !== undefined || this.apiKey === undefined) return this.knownPermissions;
    // A key's permissions never change, so one answer holds for the life of the process.
    this.knownPermissions = await probePermissions(this.client);
    return this.knownPermissions;
  }

  close(): void {
    this.client.close();
  }

  /** The errors the server would answer without looking at anything else, answered first as local mode does. */
  private requireKey(): void {
    if (this.apiKey === undefined) throw new DisperslError('MISSING_API_KEY');
    // A key that cannot even be put in a header is malformed, which is what the server would say.
    if (!/^[\x21-\x7e]+$/.test(this.apiKey)) throw new DisperslError('INVALID_API_KEY');
  }
}
