import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders, RequestOptions } from 'node:http';
import { DisperslError, type ErrorDetails, isErrorType } from '../core/errors.js';
import { displayBaseUrl, redactUrl } from './base-url.js';

export const DEFAULT_TIMEOUT_MS = 10_000;
/** A page of 100 keys is about 100 kB; anything far past that is not our server talking. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Below the 5 s a Node server keeps an idle connection, so we drop a socket before the server does. */
const IDLE_SOCKET_MS = 4_000;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']);

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RestClientOptions {
  baseUrl: URL;
  apiKey: string | undefined;
  timeoutMs?: number | undefined;
  userAgent?: string | undefined;
}

export interface RestRequest {
  method: Method;
  /** From the origin, e.g. `/v1/keys`; callers build it from `api()` and encode every segment. */
  path: string;
  body?: unknown;
  headers?: OutgoingHttpHeaders;
  timeoutMs?: number;
}

export interface RestAnswer {
  status: number;
  contentType: string;
  text: string;
}

type Transport = { request(options: RequestOptions, onResponse: (res: IncomingMessage) => void): ClientRequest; agent: Agent };

/** Why a request got no usable answer: the key of the error's details, and what the user reads. */
type Failure = 'connection_refused' | 'host_not_found' | 'timeout' | 'connection_failed' | 'redirect' | 'not_json' | 'too_large' | 'unexpected_answer';

class Timeout extends Error {}
class TooLarge extends Error {}

/**
 * HTTP/1.1 to the REST API of a dispersl-mcp server, for remote mode. One keep-alive agent reuses
 * connections, every exchange is bounded by a timeout, and redirects are never followed: the key
 * goes to the configured base URL and nowhere else.
 */
export class RestClient {
  /** The base URL as the user configured it, named in every transport error. */
  readonly base: string;
  private readonly basePath: string;
  private readonly timeoutMs: number;
  private readonly headers: OutgoingHttpHeaders;
  private readonly transport: Promise<Transport>;
  private closed = false;

  constructor(private readonly options: RestClientOptions) {
    this.base = displayBaseUrl(options.baseUrl);
    this.basePath = options.baseUrl.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.headers = { accept: 'application/json', 'user-agent': options.userAgent ?? 'dispersl-mcp' };
    if (options.apiKey !== undefined) this.headers.authorization = `Bearer ${options.apiKey}`;
    // https (and with it TLS) loads only for an https base URL.
    const secure = options.baseUrl.protocol === 'https:';
    this.transport = (secure ? import('node:https') : import('node:http')).then((mod) => ({
      request: mod.request,
      agent: new mod.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    }));
  }

  /** A path under the base URL: `api('/keys')` is `/v1/keys` for a base of `http://host/v1`. */
  api(path: string): string {
    return `${this.basePath}${path}`;
  }

  /** The base path's parent plus `path`: where the server's other endpoints (`/mcp`) live. */
  sibling(path: string): string | undefined {
    return this.basePath.endsWith('/v1') ? `${this.basePath.slice(0, -3)}${path}` : undefined;
  }

  /**
   * The JSON body of a 2xx answer. An error envelope from the server is rethrown as the same
   * DisperslError, so the model reads exactly what the server said (401, 403, 404, 429 with
   * retry_after, …). Anything that is not our server answering becomes INTERNAL_ERROR naming the URL.
   */
  async call(request: RestRequest): Promise<unknown> {
    const answer = await this.send(request);
    if (answer.status >= 300 && answer.status < 400) {
      throw this.failure(request, 'redirect', `answered with a redirect (HTTP ${answer.status}); remote mode follows none, so the key is sent to DISPERSL_BASE_URL only: set it to the final address`, { status: answer.status });
    }
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      throw this.failure(request, 'not_json', `answered HTTP ${answer.status} with a body that is not JSON (${answer.contentType || 'no content type'}); is DISPERSL_BASE_URL the REST API of a dispersl-mcp server, ending in /v1?`, { status: answer.status });
    }
    if (answer.status >= 200 && answer.status < 300) return body;
    const error = envelopeError(body);
    if (error) return Promise.reject(error);
    throw this.failure(request, 'unexpected_answer', `answered HTTP ${answer.status} without a Dispersl error envelope; is DISPERSL_BASE_URL the REST API of a dispersl-mcp server, ending in /v1?`, { status: answer.status });
  }

  /** A 2xx body that is not what the contract promises. */
  unexpected(request: RestRequest): DisperslError {
    return this.failure(request, 'unexpected_answer', 'answered with JSON that is not what the Dispersl REST API returns; is DISPERSL_BASE_URL the REST API of a dispersl-mcp server, ending in /v1?');
  }

  /** One exchange, its body read whole. Transport failures throw INTERNAL_ERROR naming the base URL. */
  async send(request: RestRequest): Promise<RestAnswer> {
    const transport = await this.transport;
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    const headers: OutgoingHttpHeaders = { ...this.headers, ...request.headers };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const timeoutMs = request.timeoutMs ?? this.timeoutMs;
    const url = this.options.baseUrl;
    const options: RequestOptions = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      method: request.method,
      path: request.path,
      headers,
      agent: transport.agent,
    };
    try {
      return await exchange(transport, options, payload, timeoutMs, IDEMPOTENT.has(request.method));
    } catch (err) {
      throw this.transportFailure(request, err, timeoutMs);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.transport.then((t) => t.agent.destroy());
  }

  private transportFailure(request: RestRequest, err: unknown, timeoutMs: number): DisperslError {
    if (err instanceof Timeout) return this.failure(request, 'timeout', `did not answer within ${timeoutMs} ms (DISPERSL_TIMEOUT_MS sets the limit)`);
    if (err instanceof TooLarge) return this.failure(request, 'too_large', `answered with more than ${MAX_BODY_BYTES} bytes; is DISPERSL_BASE_URL the REST API of a dispersl-mcp server?`);
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ECONNREFUSED') return this.failure(request, 'connection_refused', 'refused the connection: is `dispersl-mcp serve` running there, and is DISPERSL_BASE_URL right?', { code });
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return this.failure(request, 'host_not_found', `cannot be reached: host ${this.options.baseUrl.hostname} not found`, { code });
    const what = err instanceof Error ? err.message : String(err);
    return this.failure(request, 'connection_failed', `cannot be reached: ${redactUrl(what)}`, code ? { code } : {});
  }

  private failure(request: RestRequest, reason: Failure, what: string, extra: ErrorDetails = {}): DisperslError {
    // Not internal detail: the URL and what went wrong are the user's own configuration and network.
    return new DisperslError('INTERNAL_ERROR', `The Dispersl API at ${this.base} ${what}`, {
      base_url: this.base,
      request: `${request.method} ${request.path.split('?', 1)[0]}`,
      reason,
      ...extra,
    });
  }
}

/** The server's error envelope as the DisperslError it was thrown as, or undefined if the body is not one. */
function envelopeError(body: unknown): DisperslError | undefined {
  const error = (body as { error?: unknown } | null)?.error as { type?: unknown; message?: unknown; details?: unknown } | undefined;
  if (typeof error !== 'object' || error === null || !isErrorType(error.type) || typeof error.message !== 'string') return undefined;
  const details = typeof error.details === 'object' && error.details !== null && !Array.isArray(error.details) ? (error.details as ErrorDetails) : {};
  return new DisperslError(error.type, error.message, details);
}

/**
 * One request and its whole answer, within `timeoutMs` from start to last byte. A request that
 * finds its reused keep-alive socket closed by the server (it was idle) is sent once more on a new
 * one when repeating it is harmless; the server never saw the first attempt.
 */
function exchange(transport: Transport, options: RequestOptions, payload: Buffer | undefined, timeoutMs: number, idempotent: boolean): Promise<RestAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let req: ClientRequest;
    const timer = setTimeout(() => req.destroy(new Timeout()), timeoutMs);
    const settle = (error: unknown, answer?: RestAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (answer) resolve(answer);
      else reject(error);
    };
    const attempt = (retry: boolean) => {
      let answered = false;
      req = transport.request(options, (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) req.destroy(new TooLarge());
          else chunks.push(chunk);
        });
        res.on('error', (err) => settle(err));
        res.on('end', () =>
          settle(undefined, {
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8'),
          }),
        );
        res.on('close', () => {
          if (!res.complete) settle(new Error('the connection closed before the answer was complete'));
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        const stale = req.reusedSocket && !answered && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        if (stale && retry && idempotent && !settled) attempt(false);
        else settle(err);
      });
      req.end(payload);
    };
    attempt(true);
  });
}
