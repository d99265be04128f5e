import type { z } from 'zod';
import type { KeyApi } from '../core/api.js';
import { DisperslError, invalidRequest } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import {
  CreatedKey,
  GetKeyInput,
  KeyList,
  KeyView,
  ListKeysInput,
  RevokeKeyInput,
  RotateKeyInput,
  RotatedKey,
  UpdateKeyInput,
  Whoami,
  WhoamiInput,
  issuesOf,
} from '../core/schemas.js';
import { isLoopbackHost, parseBaseUrl } from './base-url.js';
import { type Method, RestClient } from './rest-client.js';
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

/** Arguments checked here with the schema the server uses, so the error is the one local mode gives. */
function checked<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input ?? {});
  if (!result.success) throw invalidRequest(issuesOf(result.error));
  return result.data;
}

/**
 * The id a tool names and the rest of its arguments. A string id goes into the URL, encoded, for the
 * server to judge; anything else cannot be put in a URL, so the schema answers here, as it would there.
 */
function splitId(schema: z.ZodType, input: unknown): { id: string; rest: Record<string, unknown> } {
  const { id, ...rest } = (input ?? {}) as Record<string, unknown>;
  if (typeof id === 'string') return { id, rest };
  checked(schema, input);
  throw invalidRequest([{ path: 'id', message: 'must be a key id like key_…' }]);
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

  async listKeys(input: unknown): Promise<KeyList> {
    this.requireKey();
    const args = checked(ListKeysInput, input);
    const query = new URLSearchParams({ limit: String(args.limit), include_revoked: String(args.include_revoked) });
    if (args.cursor !== undefined) query.set('cursor', args.cursor);
    const path = this.client.api(`/keys?${query.toString()}`);
    const body = (await this.request('GET', path)) as { apiKeys?: unknown; next_cursor?: unknown } | null;
    return this.expect(KeyList, { keys: body?.apiKeys, next_cursor: body?.next_cursor }, 'GET', path);
  }

  async getKey(input: unknown): Promise<KeyView> {
    this.requireKey();
    const { id } = checked(GetKeyInput, input);
    const path = this.client.api(`/keys/${segment(id)}`);
    return this.expect(KeyView, await this.request('GET', path), 'GET', path);
  }

  async generateKey(input: unknown): Promise<CreatedKey> {
    this.requireKey();
    const path = this.client.api('/api-keys');
    const body = await this.request('POST', path, input ?? {});
    const { object: _object, secret_key, ...key } = (body ?? {}) as Record<string, unknown>;
    return this.expect(CreatedKey, { key, secret: secret_key }, 'POST', path);
  }

  async revokeKey(input: unknown): Promise<KeyView> {
    this.requireKey();
    const { id } = checked(RevokeKeyInput, input);
    const path = this.client.api(`/keys/${segment(id)}`);
    return this.expect(KeyView, await this.request('DELETE', path), 'DELETE', path);
  }

  async rotateKey(input: unknown): Promise<RotatedKey> {
    this.requireKey();
    const { id, rest } = splitId(RotateKeyInput, input);
    const path = this.client.api(`/keys/${segment(id)}/rotate`);
    return this.expect(RotatedKey, await this.request('POST', path, rest), 'POST', path);
  }

  async updateKey(input: unknown): Promise<KeyView> {
    this.requireKey();
    const { id, rest } = splitId(UpdateKeyInput, input);
    const path = this.client.api(`/keys/${segment(id)}`);
    return this.expect(KeyView, await this.request('PATCH', path, rest), 'PATCH', path);
  }

  async whoami(input?: unknown): Promise<Whoami> {
    this.requireKey();
    checked(WhoamiInput, input);
    const path = this.client.api('/me');
    return this.expect(Whoami, await this.request('GET', path), 'GET', path);
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

  private request(method: Method, path: string, body?: unknown): Promise<unknown> {
    return this.client.call({ method, path, body });
  }

  /** The mapped answer, if it has the contract's shape; returned as sent, so nothing is dropped or reordered. */
  private expect<T>(schema: z.ZodType<T>, value: unknown, method: Method, path: string): T {
    if (!schema.safeParse(value).success) throw this.client.unexpected({ method, path });
    return value as T;
  }
}
