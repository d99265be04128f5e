import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { StoreOps } from '../core/store.js';

/**
 * The `requestState` of a 2026-07-28 multi round-trip request: the server answers a tools/call with
 * `resultType: "input_required"`, and the client calls again with the human's `inputResponses` and
 * this state unchanged. The server keeps nothing in between, so the state is sealed: AES-256-GCM
 * under a server secret (the client can neither read nor alter it), bound to the calling key, the
 * tool and its arguments, valid for five minutes, and accepted once.
 * https://modelcontextprotocol.io/specification/2026-07-28/basic/utilities/multi-round-trip
 */

export const REQUEST_STATE_TTL_MS = 5 * 60_000;
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A state longer than this was not made here; refused before any work. */
const MAX_STATE_CHARS = 16_384;

/** Where the seal's secret lives and which states were already used: the database, or memory for one process. */
export interface RequestStateStore {
  /** 32 bytes, the same in every process that must open what another sealed. */
  secret(): Promise<Buffer>;
  /** True the first time a nonce is used before it expires; false ever after. */
  useOnce(nonce: string, expiresAt: number, now: number): Promise<boolean>;
}

/** What a sealed state is bound to: who called which tool with what. */
export interface StateBinding {
  principal: string;
  tool: string;
  args: unknown;
}

export type OpenedState = { ok: true; state: unknown } | { ok: false; reason: 'malformed' | 'forged' | 'expired' | 'foreign' | 'replayed' };

/** JSON with object keys sorted, so the same arguments always hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function digest(binding: StateBinding): string {
  return createHash('sha256').update(`${binding.principal}\n${binding.tool}\n${canonical(binding.args)}`).digest('base64url');
}

interface Sealed {
  b: string; // binding digest
  e: number; // expires at (epoch ms)
  n: string; // nonce, for accept-once
  s: unknown; // the tool's own state
}

export class RequestStates {
  constructor(
    private readonly store: RequestStateStore,
    private readonly clock: () => number = Date.now,
    private readonly ttlMs: number = REQUEST_STATE_TTL_MS,
  ) {}

  async seal(binding: StateBinding, state: unknown): Promise<string> {
    const sealed: Sealed = { b: digest(binding), e: this.clock() + this.ttlMs, n: randomBytes(16).toString('base64url'), s: state };
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', await this.store.secret(), iv);
    cipher.setAAD(Buffer.from([VERSION]));
    const body = Buffer.concat([cipher.update(JSON.stringify(sealed), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  async open(token: unknown, binding: StateBinding): Promise<OpenedState> {
    if (typeof token !== 'string' || token.length > MAX_STATE_CHARS || !/^[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'malformed' };
    const raw = Buffer.from(token, 'base64url');
    if (raw.length <= 1 + IV_BYTES + TAG_BYTES || raw[0] !== VERSION) return { ok: false, reason: 'malformed' };
    const secret = await this.store.secret();
    let sealed: Sealed;
    try {
      const decipher = createDecipheriv('aes-256-gcm', secret, raw.subarray(1, 1 + IV_BYTES));
      decipher.setAAD(raw.subarray(0, 1));
      decipher.setAuthTag(raw.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(raw.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
      sealed = JSON.parse(plain.toString('utf8')) as Sealed;
    } catch {
      return { ok: false, reason: 'forged' };
    }
    const now = this.clock();
    if (!(sealed.e > now)) return { ok: false, reason: 'expired' };
    if (sealed.b !== digest(binding)) return { ok: false, reason: 'foreign' };
    if (!(await this.store.useOnce(sealed.n, sealed.e, now))) return { ok: false, reason: 'replayed' };
    return { ok: true, state: sealed.s };
  }
}

/** For one process (stdio): a fresh secret and an in-memory record of used states. */
export function memoryRequestStateStore(): RequestStateStore {
  const secret = randomBytes(32);
  const used = new Map<string, number>();
  return {
    secret: async () => secret,
    async useOnce(nonce, expiresAt, now) {
      for (const [n, e] of used) if (e <= now) used.delete(n);
      if (used.has(nonce)) return false;
      used.set(nonce, expiresAt);
      return true;
    },
  };
}

/** The slice of the key store that keeps the secret and the used states, for every process on the database. */
export type StoredSecrets = Pick<StoreOps, 'serverSecret' | 'useRequestState'>;

export function storedRequestStateStore(store: StoredSecrets, clock: () => number = Date.now): RequestStateStore {
  let secret: Promise<Buffer> | undefined;
  return {
    secret: () => (secret ??= store.serverSecret('mcp-request-state', () => randomBytes(32).toString('base64url'), clock()).then((s) => Buffer.from(s, 'base64url'))),
    useOnce: (nonce, expiresAt, now) => store.useRequestState(nonce, expiresAt, now),
  };
}
