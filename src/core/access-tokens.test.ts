import { describe, expect, it } from 'vitest';
import { covers, looksLikeAccessToken, narrowPermissions, parseScope, uncoveredScopes } from './access-tokens.js';
import { generateToken } from './tokens.js';

describe('access-token scopes', () => {
  it('parses a scope parameter into distinct permission names', () => {
    expect(parseScope('keys:read keys:write keys:read')).toEqual(['keys:read', 'keys:write']);
    expect(parseScope('nodes.read.own')).toEqual(['nodes.read.own']);
    for (const bad of ['', ' keys:read', 'keys:read ', 'keys:read  admin', 'a"b', 'a\\b', 'é']) expect(parseScope(bad), bad).toBeUndefined();
  });

  it('lets admin cover keys:read and keys:write, but not permissions it does not hold', () => {
    expect(covers(['admin'], 'keys:read')).toBe(true);
    expect(covers(['admin'], 'keys:write')).toBe(true);
    expect(covers(['admin'], 'admin')).toBe(true);
    expect(covers(['admin'], 'nodes.read.own')).toBe(false);
    expect(covers(['keys:read'], 'keys:write')).toBe(false);
    expect(uncoveredScopes(['keys:read', 'nodes.read.own'], ['keys:read', 'keys:write', 'nodes.read.own'])).toEqual(['keys:write']);
  });

  it("narrows a caller to the token's scopes that its key still covers", () => {
    expect(narrowPermissions(['admin'], ['keys:read'])).toEqual(['keys:read']);
    expect(narrowPermissions(['keys:read'], ['keys:read', 'keys:write'])).toEqual(['keys:read']);
    expect(narrowPermissions(['keys:read'], [])).toEqual([]);
  });

  it('tells an access token (a compact JWS) from a key', () => {
    expect(looksLikeAccessToken('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXlfYSJ9.c2ln')).toBe(true);
    expect(looksLikeAccessToken(generateToken('live').token)).toBe(false);
    expect(looksLikeAccessToken('a.b')).toBe(false);
    expect(looksLikeAccessToken('a.b.c.d')).toBe(false);
    expect(looksLikeAccessToken(`a.${'b'.repeat(5000)}.c`)).toBe(false);
  });
});
