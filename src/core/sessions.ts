import { createHash, randomBytes } from 'node:crypto';
import { looksLikeAccessToken } from './access-tokens.js';
import type { Caller, Clock, Credential, Gate } from './auth.js';
import { DisperslError, type ErrorType } from './errors.js';
import { PERMISSIONS } from './model.js';
import { requirePermission } from './operation.js';
import type { KeyStore } from './store.js';
import { type RandomSource, randomBase62 } from './tokens.js';

/**
 * Dashboard sessions: a key pasted once buys a session token the browser keeps in a cookie. The
 * database holds only a hash of the token. Every request checks the key again as its token would be
 * checked (revoked, disabled, expired, IP), so revoking or disabling the key ends its sessions on the
 * next request, in every process; a session idle for 12 hours ends too. A session is never a key:
 * it authenticates the dashboard's own routes and nothing else, and charges nothing.
 */

export const SESSION_IDLE_MS = 12 * 3_600_000;
/** A session's idle expiry is pushed back at most once a minute: a page view is then a read, not a write. */
const TOUCH_EVERY_MS = 60_000;
/** 40 base62 characters: about 238 bits. */
const TOKEN = /^[A-Za-z0-9]{40}$/;

export type SessionStore = Pick<KeyStore, 'transaction' | 'touchSession' | 'deleteSession'>;

/** A signed-in request: who it acts as, and the anti-forgery token its forms must carry. */
export interface Session {
  caller: Caller;
  csrf: string;
}

/** A token that named a session which has ended because its key no longer passes (the reason, for the sign-in page). */
export interface EndedSession {
  ended: ErrorType;
}

function idOf(token: string): string {
  return createHash('sha256').update(`dispersl-session-id\n${token}`).digest('base64url');
}

/** The anti-forgery token of a session: derived from the session token, which only the cookie holds, so a forger cannot compute it. */
function csrfOf(token: string): string {
  return createHash('sha256').update(`dispersl-session-csrf\n${token}`).digest('base64url');
}

export class Sessions {
  constructor(
    private readonly store: SessionStore,
    private readonly gate: Gate,
    private readonly clock: Clock = Date.now,
    private readonly random: RandomSource = randomBytes,
    readonly idleMs: number = SESSION_IDLE_MS,
  ) {}

  /**
   * A new session for a key that may read keys, recorded in the audit trail; or the error the key
   * gets. Only API keys sign in: a session names its key, so one started by an access token would
   * outlive the token and lose its narrower scopes.
   */
  async signIn(credential: Credential): Promise<{ token: string; session: Session }> {
    if (credential.token !== undefined && looksLikeAccessToken(credential.token)) {
      throw new DisperslError('INVALID_API_KEY', 'Sign in with an API key (pk_live_… or pk_test_…), not an access token');
    }
    const caller = await this.gate.peek(credential);
    requirePermission(caller, PERMISSIONS.read);
    const token = randomBase62(40, this.random);
    const now = this.clock();
    const { key } = caller;
    await this.store.transaction(async (tx) => {
      await tx.insertSession({ id: idOf(token), org_id: key.org_id, key_id: key.id, created_at: now, expires_at: now + this.idleMs });
      await tx.appendAudit({ org_id: key.org_id, key_id: key.id, actor_key_id: key.id, action: 'signed_in', details: {}, at: now });
    });
    return { token, session: { caller, csrf: csrfOf(token) } };
  }

  /**
   * The session a token names, its idle expiry pushed back and its key checked again; undefined when
   * there is none (unknown, idle too long, signed out), `{ ended }` when its key stopped passing.
   */
  async resume(token: string | undefined, credential: Omit<Credential, 'token'>): Promise<Session | EndedSession | undefined> {
    if (token === undefined || !TOKEN.test(token)) return undefined;
    const id = idOf(token);
    const now = this.clock();
    const until = now + this.idleMs;
    const record = await this.store.touchSession(id, now, until, until - TOUCH_EVERY_MS);
    if (record === undefined) return undefined;
    try {
      const caller = await this.gate.peekKey(record.key_id, { ...credential, organizationId: record.org_id });
      requirePermission(caller, PERMISSIONS.read);
      return { caller, csrf: csrfOf(token) };
    } catch (err) {
      if (!(err instanceof DisperslError)) throw err;
      await this.store.deleteSession(id);
      return { ended: err.type };
    }
  }

  async signOut(token: string | undefined): Promise<void> {
    if (token !== undefined && TOKEN.test(token)) await this.store.deleteSession(idOf(token));
  }
}
