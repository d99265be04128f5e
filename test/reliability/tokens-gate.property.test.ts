import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisperslError, isErrorType } from '../../src/core/errors.js';
import { generateToken, hashToken, parseToken, tokenStart } from '../../src/core/tokens.js';
import { invariantViolations, query, tempDir } from '../helpers/reliability-db.js';
import { type LocalWorld, openWorld } from '../helpers/reliability-local.js';
import { fcOptions } from './runs.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const base62Char = fc.constantFrom(...BASE62.split(''));

/** One way a real token gets damaged in transit: a typo, a cut, a paste with extra bytes, a swap. */
type Damage =
  | { kind: 'substitute'; at: number; by: string }
  | { kind: 'delete'; at: number }
  | { kind: 'insert'; at: number; char: string }
  | { kind: 'truncate'; to: number }
  | { kind: 'swap'; at: number }
  | { kind: 'pad'; left: string; right: string }
  | { kind: 'case'; at: number }
  | { kind: 'environment' };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('substitute' as const), at: fc.nat(), by: base62Char }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), char: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }),
  fc.record({ kind: fc.constant('truncate' as const), to: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('pad' as const),
    left: fc.constantFrom('', ' ', '\t', '"', 'Bearer ', '\u200b'),
    right: fc.constantFrom('', ' ', '\n', '\r\n', '"', '.', '\u0000', '='),
  }),
  fc.record({ kind: fc.constant('case' as const), at: fc.nat() }),
  fc.constant({ kind: 'environment' as const }),
);

/** The damaged token, or undefined when this damage happens to leave it unchanged (e.g. swapping equal characters). */
function apply(token: string, d: Damage): string | undefined {
  const at = (n: number) => n % token.length;
  let out: string;
  switch (d.kind) {
    case 'substitute':
      out = token.slice(0, at(d.at)) + d.by + token.slice(at(d.at) + 1);
      break;
    case 'delete':
      out = token.slice(0, at(d.at)) + token.slice(at(d.at) + 1);
      break;
    case 'insert':
      out = token.slice(0, at(d.at)) + d.char + token.slice(at(d.at));
      break;
    case 'truncate':
      out = token.slice(0, d.to % token.length);
      break;
    case 'swap': {
      const i = d.at % (token.length - 1);
      out = token.slice(0, i) + token[i + 1] + token[i] + token.slice(i + 2);
      break;
    }
    case 'pad':
      out = d.left + token + d.right;
      break;
    case 'case': {
      const c = token[at(d.at)]!;
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      out = token.slice(0, at(d.at)) + flipped + token.slice(at(d.at) + 1);
      break;
    }
    case 'environment':
      out = token.startsWith('pk_live_') ? `pk_test_${token.slice(8)}` : `pk_live_${token.slice(8)}`;
      break;
  }
  return out === token ? undefined : out;
}

/** Secrets of other services and other shapes a client may send by mistake. */
const foreign = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.stringMatching(/^pk_(live|test)_[0-9A-Za-z]{38}$/),
  fc.stringMatching(/^pk_(live|test)_[0-9A-Za-z]{0,60}$/),
  fc.stringMatching(/^(sk|rk|pk)_(live|test|prod)_[0-9A-Za-z]{24,40}$/),
  fc.stringMatching(/^(ghp|gho|xoxb|AKIA)[_-]?[0-9A-Za-z]{16,40}$/),
  fc.stringMatching(/^ey[0-9A-Za-z_-]{10,40}\.[0-9A-Za-z_-]{10,40}\.[0-9A-Za-z_-]{10,40}$/),
  fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => `pk_live_${s}`),
);

describe('token parser under generated input', () => {
  it('accepts every token it generates, and only in its own environment', () => {
    fc.assert(
      fc.property(fc.constantFrom('live' as const, 'test' as const), fc.uint8Array({ minLength: 64, maxLength: 64 }), (env, bytes) => {
        let offset = 0;
        const random = (size: number) => {
          const chunk = Buffer.alloc(size);
          for (let i = 0; i < size; i++) chunk[i] = bytes[(offset++) % bytes.length]!;
          return chunk;
        };
        const issued = generateToken(env, random);
        expect(parseToken(issued.token)).toBe(env);
        expect(issued.hash).toBe(hashToken(issued.token));
        expect(issued.token.startsWith(issued.start)).toBe(true);
        expect(tokenStart(issued.token)).toBe(issued.start);
      }),
      fcOptions(500),
    );
  });

  it('rejects every corrupted or truncated token (typo, cut, swap, padding, case, environment)', () => {
    fc.assert(
      fc.property(fc.constantFrom('live' as const, 'test' as const), damage, (env, d) => {
        const token = generateToken(env).token;
        const damaged = apply(token, d);
        fc.pre(damaged !== undefined);
        expect(parseToken(damaged!)).toBeUndefined();
      }),
      fcOptions(3000),
    );
  });

  it('rejects foreign strings and never throws', () => {
    fc.assert(
      fc.property(foreign, (s) => {
        expect(parseToken(s)).toBeUndefined();
      }),
      fcOptions(3000),
    );
  });
});

describe('the gate under generated credentials (real SQLite file)', () => {
  const tmp = tempDir('gate');
  let world: LocalWorld;
  let secret: string;
  let keyId: string;
  const hourCount = () => query<{ hour_count: number }>(tmp.db(), 'SELECT hour_count FROM usage WHERE key_id = ?', keyId)[0]?.hour_count ?? 0;

  beforeAll(async () => {
    world = openWorld(tmp.db());
    ({ secret, keyId } = await world.createOrg('enterprise', { requests_per_hour: 1_000_000, max_concurrency: 1_000 }));
  });
  afterAll(async () => {
    world.close();
    tmp.cleanup();
  });

  it('refuses every damaged form of a real key before charging anything', async () => {
    const before = hourCount();
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        const damaged = apply(secret, d);
        fc.pre(damaged !== undefined);
        const error = await world.gate.admit({ token: damaged, ip: '127.0.0.1' }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(DisperslError);
        expect(['INVALID_API_KEY', 'MISSING_API_KEY']).toContain((error as DisperslError).type);
        await expect(world.gate.peek({ token: damaged, ip: '127.0.0.1' })).rejects.toBeInstanceOf(DisperslError);
      }),
      fcOptions(1500),
    );
    expect(hourCount()).toBe(before);
  });

  it('lets nothing but a typed error escape, whatever the token, address and organization header', async () => {
    let admitted = 0;
    const credential = fc.record({
      token: fc.option(fc.oneof(foreign, fc.constant('REAL')), { nil: undefined }),
      ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ unit: 'binary', maxLength: 50 }), fc.constantFrom('::ffff:127.0.0.1', 'fe80::1%eth0', '', '127.0.0.1:80')),
      organizationId: fc.option(fc.oneof(fc.string({ maxLength: 30 }), fc.constant('ORG')), { nil: undefined }),
    });
    const orgId = query<{ org_id: string }>(tmp.db(), 'SELECT org_id FROM keys WHERE id = ?', keyId)[0]!.org_id;
    await fc.assert(
      fc.asyncProperty(credential, async (c) => {
        const token = c.token === 'REAL' ? secret : c.token;
        const organizationId = c.organizationId === 'ORG' ? orgId : c.organizationId;
        const outcome = await world.gate.admit({ token, ip: c.ip, organizationId }).then(
          (a) => a,
          (e: unknown) => e,
        );
        if (outcome instanceof DisperslError) {
          expect(isErrorType(outcome.type)).toBe(true);
          expect(outcome.type).not.toBe('INTERNAL_ERROR');
          return;
        }
        // Only the real key, presented for its own organization (or none), gets in.
        const admission = outcome as { caller: { key: { id: string } }; release(): void };
        expect(token).toBe(secret);
        expect(organizationId === undefined || organizationId === orgId).toBe(true);
        expect(admission.caller.key.id).toBe(keyId);
        admission.release();
        admitted++;
      }),
      fcOptions(2000),
    );
    expect(admitted).toBeGreaterThan(0);
    expect(invariantViolations(tmp.db())).toEqual([]);
  });
});
