import { describe, expect, it } from 'vitest';
import { generateToken } from './tokens.js';
import { containsSecret, pathHoldsSecret, redactPath, redactSecrets } from './redact.js';

const key = generateToken('live').token;
const testKey = generateToken('test').token;
const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJrZXlfYWJjIiwic2NvcGUiOiJhZG1pbiJ9.c2lnbmF0dXJlc2lnbmF0dXJl';

describe('redactPath', () => {
  it('hides a key however the /ot/ path is spelled, and a key or token pasted anywhere else', () => {
    const cases: Array<[string, string]> = [
      [`/ot/${key}`, '/ot/[redacted]'],
      [`/ot/${key}/readonly`, '/ot/[redacted]/readonly'],
      [`//ot/${key}`, '//ot/[redacted]'],
      [`/OT/${key}`, '/OT/[redacted]'],
      [`/ot//${key}`, '/ot//[redacted]'],
      [`/ot/not-even-a-key`, '/ot/[redacted]'],
      [`/v1/keys/${key}`, '/v1/keys/pk_live_[redacted]'],
      [`/v1/keys/${testKey}/rotate`, '/v1/keys/pk_test_[redacted]/rotate'],
      [`/v1/keys/${key.toUpperCase()}`, '/v1/keys/PK_LIVE_[redacted]'],
      [`/x/${jwt}/y`, '/x/[redacted]/y'],
    ];
    for (const [path, shown] of cases) {
      expect(redactPath(path), path).toBe(shown);
      expect(pathHoldsSecret(path), path).toBe(true);
    }
  });

  it('leaves paths without secrets as they are', () => {
    for (const path of ['/healthz', '/v1/keys/key_abc123', '/mcp/readonly', '/v1/openapi.json', '/.well-known/oauth-protected-resource/mcp', '/otters/1']) {
      expect(redactPath(path)).toBe(path);
      expect(pathHoldsSecret(path)).toBe(false);
    }
  });
});

describe('redactSecrets', () => {
  it('hides every key and JWT in a text, keeping the rest', () => {
    const text = `a ${key} b ${jwt} c pk_test_short d`;
    expect(redactSecrets(text)).toBe('a pk_live_[redacted] b [redacted] c pk_test_[redacted] d');
    expect(containsSecret(text)).toBe(true);
    expect(containsSecret('database or disk is full')).toBe(false);
    expect(containsSecret('keys.example.com/mcp')).toBe(false);
  });
});
