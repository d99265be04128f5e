import { randomBytes } from 'node:crypto';
import { type JWTPayload, SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import type { AccessGrant, AccessTokenVerifier } from '../core/access-tokens.js';
import { parseScope } from '../core/access-tokens.js';
import type { Clock } from '../core/auth.js';
import { DisperslError } from '../core/errors.js';
import { pathHoldsSecret } from '../core/redact.js';
import type { KeyRecord } from '../core/model.js';
import type { KeyStore } from '../core/store.js';
import { type RandomSource, randomBase62 } from '../core/tokens.js';
import { SigningSecretError } from './secret-box.js';
import { type SigningKey, SigningKeys } from './signing-keys.js';

export const TOKEN_LIFETIME_SECONDS = 3600;
/** RFC 9068's media type for JWT access tokens: no other JWT (an ID token, a client assertion) passes for one. */
const TOKEN_TYPE = 'at+jwt';
const DEFAULT_CACHE_SIZE = 10_000;
/** How far ahead of this server's clock another process's `iat` may be. */
const MAX_CLOCK_SKEW_MS = 60_000;

export interface AccessTokensOptions {
  /** This server's public base URL (no trailing slash): the tokens' issuer, and the root of every audience it accepts. */
  issuer: string | (() => string);
  clock?: Clock;
  random?: RandomSource;
  /** How long a verified token is remembered at most is its own lifetime; this bounds how many. */
  cacheSize?: number;
  signingKeyMaxAgeMs?: number;
  /** DISPERSL_SECRET_KEY: the signing secrets are kept encrypted with it (see SigningKeys). */
  encryptionKey?: Buffer | undefined;
}

/** The RFC 6749 §5.1 answer. */
export interface IssuedAccessToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
}

const invalid = () => new DisperslError('INVALID_API_KEY');
const expired = () => new DisperslError('INVALID_API_KEY', 'The access token has expired; request a new one from /oauth/token');

/** A verified token as remembered: its grant and when it was issued (epoch ms). */
interface Verified {
  grant: AccessGrant;
  issuedAt: number;
}

/**
 * Whether a token keeps the rules this server issues by: issued no later than a minute ahead of this
 * clock, and living no longer than TOKEN_LIFETIME_SECONDS. A token signed with a stolen secret, with
 * `exp` years away or `iat` in the future, fails here even though its signature holds.
 */
function withinIssuedLifetime({ grant, issuedAt }: Verified, now: number): boolean {
  return issuedAt <= now + MAX_CLOCK_SKEW_MS && grant.expiresAt - issuedAt <= TOKEN_LIFETIME_SECONDS * 1000;
}

function trimSlash(url: string): string {
  return url.endsWith('/') ? url.slice(0, -1) : url;
}

function decoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * Signs and verifies access tokens: JWTs (HS256) naming the key they were issued to (`sub`) and the
 * scopes granted. Verified tokens are remembered until they expire, so the hot path does no crypto;
 * whether the key may still be used is not remembered: the gate reads the key on every request.
 */
export class AccessTokens implements AccessTokenVerifier {
  readonly signingKeys: SigningKeys;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly issuerOf: () => string;
  private readonly cacheSize: number;
  private readonly verified = new Map<string, Verified>();

  constructor(store: KeyStore, options: AccessTokensOptions) {
    this.clock = options.clock ?? Date.now;
    this.random = options.random ?? randomBytes;
    const issuer = options.issuer;
    this.issuerOf = typeof issuer === 'string' ? () => trimSlash(issuer) : () => trimSlash(issuer());
    this.cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.signingKeys = new SigningKeys(store, {
      clock: this.clock,
      random: this.random,
      tokenLifetimeMs: TOKEN_LIFETIME_SECONDS * 1000,
      maxAgeMs: options.signingKeyMaxAgeMs,
      encryptionKey: options.encryptionKey,
    });
  }

  get issuer(): string {
    return this.issuerOf();
  }

  /**
   * The audience a token requested for `resource` (RFC 8707) gets: this server or a path on it,
   * without a fragment or query; the server itself when none was asked for. Undefined: not ours.
   */
  audienceFor(resource: string | undefined): string | undefined {
    const base = this.issuer;
    if (resource === undefined) return base;
    let url: URL;
    try {
      url = new URL(resource);
    } catch {
      return undefined;
    }
    if (url.hash !== '' || url.search !== '' || url.username !== '' || url.password !== '') return undefined;
    const canonical = trimSlash(`${url.origin}${url.pathname}`);
    // A key or token in the path (/ot/<key>, /OT/<key>, a token pasted anywhere, percent-encoded or not) must never end up inside a token.
    if (pathHoldsSecret(url.pathname) || pathHoldsSecret(decoded(url.pathname))) return undefined;
    return this.isOurs(canonical) ? canonical : undefined;
  }

  /** A token for `key`, carrying `scopes`, that never outlives the key's own expiry. */
  async issue(key: KeyRecord, scopes: readonly string[], audience: string): Promise<IssuedAccessToken> {
    const signing: SigningKey = await this.signingKeys.current();
    const iat = Math.floor(this.clock() / 1000);
    const exp = Math.min(iat + TOKEN_LIFETIME_SECONDS, key.expires_at === null ? Number.POSITIVE_INFINITY : Math.floor(key.expires_at / 1000));
    const scope = scopes.join(' ');
    const access_token = await new SignJWT({ scope, client_id: key.id })
      .setProtectedHeader({ alg: 'HS256', typ: TOKEN_TYPE, kid: signing.kid })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setSubject(key.id)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomBase62(22, this.random))
      .sign(signing.secret);
    return { access_token, token_type: 'bearer', expires_in: exp - iat, scope };
  }

  async verify(token: string, now: number): Promise<AccessGrant> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      // The cache spares the signature check, never the lifetime rules.
      if (now < known.grant.expiresAt && withinIssuedLifetime(known, now)) return known.grant;
      this.verified.delete(token);
      throw now < known.grant.expiresAt ? invalid() : expired();
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async ({ kid }) => {
          const key = kid === undefined ? undefined : await this.signingKeys.forVerifying(kid, now);
          if (key === undefined) throw invalid();
          return key.secret;
        },
        { issuer: this.issuer, algorithms: ['HS256'], typ: TOKEN_TYPE, currentDate: new Date(now), requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti'] },
      ));
    } catch (err) {
      // Secrets that cannot be decrypted are the operator's problem to fix, not a bad token: never silent.
      if (err instanceof SigningSecretError) throw err;
      throw err instanceof joseErrors.JWTExpired ? expired() : invalid();
    }
    const verified = this.verifiedOf(payload);
    if (verified === undefined || !withinIssuedLifetime(verified, now)) throw invalid();
    this.remember(token, verified);
    return verified.grant;
  }

  /** The claims as a grant, or undefined when they are not what this server issues (a foreign audience among them). */
  private verifiedOf(payload: JWTPayload): Verified | undefined {
    const { sub, aud, exp, iat, scope } = payload;
    if (typeof sub !== 'string' || typeof aud !== 'string' || typeof exp !== 'number' || typeof iat !== 'number' || typeof scope !== 'string') return undefined;
    if (!this.isOurs(aud)) return undefined;
    const scopes = scope === '' ? [] : parseScope(scope);
    return scopes === undefined ? undefined : { grant: { keyId: sub, scopes, expiresAt: exp * 1000 }, issuedAt: iat * 1000 };
  }

  private isOurs(audience: string): boolean {
    const base = this.issuer;
    return audience === base || audience.startsWith(`${base}/`);
  }

  private remember(token: string, verified: Verified): void {
    if (this.verified.size >= this.cacheSize) {
      // Oldest first: a Map iterates in insertion order.
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, verified);
  }
}
