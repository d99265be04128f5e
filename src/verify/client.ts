import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** What POST /v1/keys/verify answers (see the OpenAPI document's Verification schema). */
export interface VerifyResult {
  valid: boolean;
  /** VALID, or the error the key would get: INVALID_API_KEY, REVOKED_API_KEY, RATE_LIMIT_EXCEEDED, … */
  type: string;
  key: VerifiedKey | null;
  organization: { id: string; name: string; plan: 'free' | 'pro' | 'enterprise' } | null;
  ratelimit: { limit: number; remaining: number; reset_at: string } | null;
  lease: { id: string; expires_at: string } | null;
}

export interface VerifiedKey {
  id: string;
  name: string;
  environment: 'live' | 'test';
  start: string;
  permissions: string[];
  [field: string]: unknown;
}

export interface VerifyOptions {
  /** Permissions the key must all hold. */
  permissions?: readonly string[];
  /** Requests charged to the key (0–1000, default 1). */
  cost?: number;
  /** The end user's address, checked against the key's allowlist. */
  ip?: string;
  /** Take a concurrency slot as a lease (release it with `release`). */
  hold?: boolean;
  lease_ms?: number;
}

export interface VerifierOptions {
  /** The dispersl-mcp server, e.g. http://127.0.0.1:8787 (a trailing /v1 is fine). */
  baseUrl: string;
  /** A key of your organization holding keys:verify. */
  key: string;
  /** How long one verification may take, start to last byte (default 2000 ms). */
  timeoutMs?: number;
  /** Sockets kept open to the server (default 64). */
  maxSockets?: number;
}

/** The server could not be asked (network, timeout) or answered something other than a verification. */
export class VerifierError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'VerifierError';
  }
}

export interface Verifier {
  verify(token: string, options?: VerifyOptions): Promise<VerifyResult>;
  /** Ends a lease taken with hold; releasing twice is harmless. */
  release(leaseId: string): Promise<void>;
  /** Closes the kept-alive sockets. */
  close(): void;
}

/**
 * A verifier for programs: one kept-alive connection pool to the server, a bounded time per call,
 * and typed answers. The token being verified is sent in the body only, never in a URL or a log.
 */
export function createVerifier({ baseUrl, key, timeoutMs = 2_000, maxSockets = 64 }: VerifierOptions): Verifier {
  const base = new URL(baseUrl.replace(/\/+$/, '').replace(/\/v1$/, ''));
  const secure = base.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets }) : new HttpAgent({ keepAlive: true, maxSockets });
  const send = secure ? httpsRequest : httpRequest;
  const authorization = `Bearer ${key}`;

  const post = (path: string, body: string | undefined): Promise<{ status: number; json: unknown }> =>
    new Promise((resolve, reject) => {
      const req = send(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: base.pathname.replace(/\/$/, '') + path,
          method: 'POST',
          agent,
          headers: {
            authorization,
            'content-length': body === undefined ? 0 : Buffer.byteLength(body),
            ...(body !== undefined && { 'content-type': 'application/json' }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text === '' ? undefined : JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
          res.on('error', (err) => {
            clearTimeout(timer);
            reject(new VerifierError(`dispersl-mcp answer failed: ${err.message}`));
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new VerifierError(`dispersl-mcp did not answer within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof VerifierError ? err : new VerifierError(`could not reach dispersl-mcp: ${err.message}`));
      });
      req.end(body);
    });

  return {
    async verify(token, options = {}) {
      const { status, json } = await post('/v1/keys/verify', JSON.stringify({ key: token, ...options }));
      if (status !== 200) {
        const type = (json as { error?: { type?: string } } | undefined)?.error?.type ?? 'unknown';
        throw new VerifierError(`dispersl-mcp refused the verification (${status} ${type})`, status, json);
      }
      return json as VerifyResult;
    },
    async release(leaseId) {
      const { status, json } = await post(`/v1/leases/${encodeURIComponent(leaseId)}/release`, undefined);
      if (status !== 200 && status !== 404) throw new VerifierError(`dispersl-mcp refused the release (${status})`, status, json);
    },
    close() {
      agent.destroy();
    },
  };
}
