import { describe, expect, it } from 'vitest';
import { generateToken, hashToken, parseToken, publicId, randomBase62, tokenStart } from './tokens.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('generateToken', () => {
  it('issues pk_live_ and pk_test_ tokens of base62 characters that parse back to their environment', () => {
    for (const environment of ['live', 'test'] as const) {
      const { token } = generateToken(environment);
      expect(token).toMatch(new RegExp(`^pk_${environment}_[0-9A-Za-z]+$`));
      expect(parseToken(token)).toBe(environment);
    }
  });

  it('carries at least 128 bits of randomness', () => {
    const { token } = generateToken('live');
    const randomChars = token.length - 'pk_live_'.length - 6; // the last six are the checksum
    expect(randomChars * Math.log2(62)).toBeGreaterThanOrEqual(128);
    const tokens = new Set(Array.from({ length: 2000 }, () => generateToken('live').token));
    expect(tokens.size).toBe(2000);
  });

  it('draws from the random source it is given, and all of base62', () => {
    const fixed = (size: number) => Buffer.alloc(size, 7);
    expect(generateToken('test', fixed).token).toBe(generateToken('test', fixed).token);
    const seen = new Set(randomBase62(20_000));
    expect([...seen].sort().join('')).toBe([...BASE62].sort().join(''));
  });

  it('skips biased bytes instead of folding them onto the alphabet', () => {
    let calls = 0;
    const source = (size: number) => Buffer.alloc(size, calls++ === 0 ? 250 : 1);
    expect(randomBase62(4, source)).toBe('1111');
    expect(calls).toBe(2);
  });
});

describe('parseToken', () => {
  const { token } = generateToken('live');

  it('rejects every single-character change', () => {
    for (let i = 0; i < token.length; i++) {
      for (const c of `${BASE62}_-.`) {
        if (c === token[i]) continue;
        const changed = token.slice(0, i) + c + token.slice(i + 1);
        expect(parseToken(changed), changed).toBeUndefined();
      }
    }
  });

  it('rejects every truncation and every extension', () => {
    for (let n = 0; n < token.length; n++) expect(parseToken(token.slice(0, n))).toBeUndefined();
    for (const c of BASE62) expect(parseToken(token + c)).toBeUndefined();
  });

  it('rejects two swapped neighbours, whitespace around it, and the other environment', () => {
    for (let i = 8; i < token.length - 1; i++) {
      if (token[i] === token[i + 1]) continue;
      const swapped = token.slice(0, i) + token[i + 1] + token[i] + token.slice(i + 2);
      expect(parseToken(swapped), swapped).toBeUndefined();
    }
    expect(parseToken(` ${token}`)).toBeUndefined();
    expect(parseToken(`${token}\n`)).toBeUndefined();
    expect(parseToken(token.replace('pk_live_', 'pk_test_'))).toBeUndefined();
    expect(parseToken(token.toUpperCase())).toBeUndefined();
  });
});

describe('hashToken', () => {
  it('is deterministic, differs between tokens and never contains the token', () => {
    const a = generateToken('live');
    const b = generateToken('live');
    expect(hashToken(a.token)).toBe(a.hash);
    expect(hashToken(a.token)).toBe(hashToken(a.token));
    expect(a.hash).not.toBe(b.hash);
    expect(a.hash).not.toContain(a.token.slice(8, 20));
    expect(a.hash).not.toContain('pk_');
  });
});

describe('tokenStart', () => {
  it('shows the prefix and four characters, nothing more', () => {
    const live = generateToken('live');
    const test = generateToken('test');
    expect(live.start).toBe(live.token.slice(0, 12));
    expect(test.start).toBe(test.token.slice(0, 12));
    expect(tokenStart(test.token)).toMatch(/^pk_test_[0-9A-Za-z]{4}$/);
    expect(live.start).toMatch(/^pk_live_[0-9A-Za-z]{4}$/);
  });
});

describe('publicId', () => {
  it('names keys and organizations with their prefix', () => {
    expect(publicId('key')).toMatch(/^key_[0-9A-Za-z]{20}$/);
    expect(publicId('org')).toMatch(/^org_[0-9A-Za-z]{20}$/);
  });
});
