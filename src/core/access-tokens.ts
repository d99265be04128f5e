import { PERMISSIONS } from './model.js';

/**
 * Access tokens are short-lived bearer tokens a key trades itself for (OAuth 2.0 client credentials).
 * The core only knows what one stands for; signing and verifying live in src/oauth, behind this interface.
 */
export interface AccessGrant {
  /** The key the token was issued to: every request re-reads it, so revoking or disabling it ends the token. */
  keyId: string;
  /** What the token may do: a subset of the key's permissions. */
  scopes: readonly string[];
  /** Epoch ms. */
  expiresAt: number;
}

export interface AccessTokenVerifier {
  /** The grant a token carries, or a DisperslError INVALID_API_KEY (tampered, expired, foreign issuer or audience). */
  verify(token: string, now: number): Promise<AccessGrant>;
}

/** A compact JWS: three base64url parts. Keys never look like this (they start with pk_ and have no dots). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function looksLikeAccessToken(token: string): boolean {
  return token.length <= 4096 && JWT_SHAPE.test(token);
}

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by single spaces. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** The scopes of a `scope` parameter, without duplicates, or undefined when it is not well-formed. */
export function parseScope(scope: string): string[] | undefined {
  const tokens = scope.split(' ');
  if (!tokens.every((t) => SCOPE_TOKEN.test(t))) return undefined;
  return [...new Set(tokens)];
}

/** Whether permissions a key holds cover one scope: held as such, or keys:read / keys:write under admin. */
export function covers(permissions: readonly string[], scope: string): boolean {
  if (permissions.includes(scope)) return true;
  return permissions.includes(PERMISSIONS.admin) && (scope === PERMISSIONS.read || scope === PERMISSIONS.write);
}

/** The scopes a key's permissions do not cover: what a token request may not ask for. */
export function uncoveredScopes(permissions: readonly string[], scopes: readonly string[]): string[] {
  return scopes.filter((s) => !covers(permissions, s));
}

/** What a token-authenticated caller may do: the token's scopes, as far as its key still covers them. */
export function narrowPermissions(permissions: readonly string[], scopes: readonly string[]): string[] {
  return scopes.filter((s) => covers(permissions, s));
}
