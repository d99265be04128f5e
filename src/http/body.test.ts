import { describe, expect, it } from 'vitest';
import { jsonDepth, parseJson } from './body.js';

describe('JSON bodies', () => {
  it('measures nesting without counting brackets inside strings', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(jsonDepth('{"a":"\\"[[[["}')).toBe(1);
    expect(jsonDepth('[[[]],[[]]]')).toBe(3);
  });

  it('answers malformed and too deeply nested JSON with INVALID_REQUEST', () => {
    expect(parseJson('{"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    const broken = parseJson('{"a":');
    expect(broken).toMatchObject({ ok: false, reason: 'syntax', error: { type: 'INVALID_REQUEST' } });
    const deep = parseJson(`${'['.repeat(65)}${']'.repeat(65)}`);
    expect(deep).toMatchObject({ ok: false, reason: 'depth', error: { type: 'INVALID_REQUEST' } });
    expect(parseJson(`${'['.repeat(64)}${']'.repeat(64)}`).ok).toBe(true);
    // Many brackets are not deep nesting: side by side, or inside a string.
    expect(parseJson(`[${Array(100).fill('{}').join(',')}]`).ok).toBe(true);
    expect(parseJson(JSON.stringify({ a: '['.repeat(100) })).ok).toBe(true);
    expect(parseJson(`{"a":"${'{'.repeat(100)}","b":${'['.repeat(65)}${']'.repeat(65)}}`)).toMatchObject({ ok: false, reason: 'depth' });
  });
});
