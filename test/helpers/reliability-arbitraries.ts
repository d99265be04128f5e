import fc from 'fast-check';

/**
 * Generators for hostile request bodies and tool arguments: for each field of the contract, values
 * near what it accepts (edges, wrong types, control characters, crafted cursors) mixed with anything
 * JSON can carry, plus unknown fields. The same generators feed MCP tools and REST bodies.
 */

const anyJson = fc.jsonValue({ maxDepth: 3 });

const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 120 }),
  fc.constantFrom('', ' ', '\u0000', 'a\nb', '\u202e', '\ud800', "'; DROP TABLE keys; --", '__proto__', 'constructor', '%00', 'x'.repeat(101), 'é'.repeat(100)),
);

const hostile = fc.oneof({ weight: 3, arbitrary: anyJson }, { weight: 2, arbitrary: nastyString }, fc.integer(), fc.double(), fc.constantFrom(null, true, false, [], {}, -0, 1e308, -1, 0));

/** A field's value: mostly accepted values, then near misses (edges, wrong shapes), then anything at all. */
interface Field {
  ok: fc.Arbitrary<unknown>;
  any: fc.Arbitrary<unknown>;
}
const field = <T, U>(ok: fc.Arbitrary<T>, edge: fc.Arbitrary<U>): Field => ({
  ok: ok as fc.Arbitrary<unknown>,
  any: fc.oneof({ weight: 6, arbitrary: ok as fc.Arbitrary<unknown> }, { weight: 2, arbitrary: edge as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostile }),
});

/**
 * A body: half of the time every field holds an accepted value (so calls get through and change
 * state), otherwise each field may be a near miss or anything at all, and unknown fields may join.
 */
function body(fields: Record<string, Field>, required: string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const pick = (which: 'ok' | 'any') => fc.record(Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f[which]])), { requiredKeys: required });
  return fc.oneof(pick('ok'), withExtra(pick('any')));
}

const name = field(fc.string({ minLength: 1, maxLength: 30 }).filter((s) => s.trim().length > 0 && !/\p{Cc}/u.test(s)), nastyString);
const environment = field(fc.constantFrom('live', 'test'), fc.constantFrom('prod', 'LIVE', ''));
const permissions = field(
  fc.uniqueArray(fc.constantFrom('keys:read', 'keys:write', 'admin', 'nodes.read.own'), { minLength: 1, maxLength: 3 }),
  fc.array(fc.constantFrom('keys:read', 'bad perm', '', 'a'.repeat(65), '*', 'keys:read'), { maxLength: 5 }),
);
const allowedIps = field(
  fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, bits]) => `${ip}/${bits}`)), { maxLength: 3 }),
  fc.array(
    fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([ip, bits]) => `${ip}/${bits}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: -1, max: 140 })).map(([ip, bits]) => `${ip}/${bits}`),
      fc.constantFrom('fe80::1%eth0', '::ffff:10.0.0.1', '10.0.0.0/8/8', '1.2.3', '0.0.0.0/0', '::/0', '127.0.0.1/32'),
      nastyString,
    ),
    { maxLength: 4 },
  ),
);
const isoDate = (min: string, max: string) =>
  fc.date({ min: new Date(min), max: new Date(max), noInvalidDate: true }).map((d) => d.toISOString());
const expiresAt = field(isoDate('2030-01-01T00:00:00Z', '9999-12-31T23:59:59Z'), fc.oneof(isoDate('1969-01-01T00:00:00Z', '2029-12-31T00:00:00Z'), isoDate('2030-01-01T00:00:00Z', '2100-01-01T00:00:00Z').map((s) => s.replace('Z', '+14:00')), nastyString));
const expiresIn = field(fc.integer({ min: 60, max: 315_360_000 }), fc.oneof(fc.integer({ min: -100, max: 400_000_000 }), fc.double({ min: 0, max: 1e6 })));
const rateLimit = field(
  fc.record({ max: fc.integer({ min: 1, max: 1_000_000_000 }), window_ms: fc.integer({ min: 1_000, max: 86_400_000 }) }),
  fc.record({ max: fc.oneof(fc.integer({ min: -1, max: 2_000_000_000 }), hostile), window_ms: fc.oneof(fc.integer({ min: -1, max: 100_000_000 }), hostile), extra: hostile }, { requiredKeys: [] }),
);
const grace = field(fc.integer({ min: 0, max: 604_800 }), fc.oneof(fc.integer({ min: -5, max: 700_000 }), fc.double()));
const enabled = field(fc.boolean(), fc.constantFrom('true', 0, 1, 'false'));
const limit = field(fc.integer({ min: 1, max: 100 }), fc.integer({ min: -5, max: 200 }));
/** Cursors a client may forge: base64url of any JSON, of near-valid pairs, or plain garbage. */
const cursor = field(
  fc.tuple(fc.integer({ min: 0, max: 2 ** 50 }), fc.stringMatching(/^key_[0-9A-Za-z]{20}$/)).map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
  fc.oneof(
    fc.tuple(fc.oneof(fc.integer(), fc.double(), anyJson), fc.oneof(fc.string(), anyJson)).map((pair) => Buffer.from(JSON.stringify(pair)).toString('base64url')),
    anyJson.map((v) => Buffer.from(JSON.stringify(v) ?? '').toString('base64url')),
    nastyString,
  ),
);
const includeRevoked = field(fc.boolean(), fc.constantFrom('true', 1, null));
const extra = fc.dictionary(fc.constantFrom('extra', 'secret', 'org_id', '__proto__', 'constructor', 'ID'), hostile, { maxKeys: 2 });

/** An id: one of the keys the test knows (picked by index when used), or a made-up one. */
export type IdChoice = { known: number } | { made: unknown };
const id = fc.oneof(
  { weight: 5, arbitrary: fc.nat().map((n): IdChoice => ({ known: n })) },
  { weight: 1, arbitrary: fc.stringMatching(/^key_[0-9A-Za-z]{1,30}$/).map((s): IdChoice => ({ made: s })) },
  { weight: 1, arbitrary: hostile.map((v): IdChoice => ({ made: v })) },
  { weight: 1, arbitrary: fc.constant<IdChoice>({ made: undefined }) },
);

function withExtra(fields: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  // Unknown fields join about one body in four.
  return fc.tuple(fields, fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: extra })).map(([f, x]) => ({ ...f, ...x }));
}

export const generateBody = fc.oneof(
  body({ name, environment, permissions, allowed_ips: allowedIps, expires_in_seconds: expiresIn, rate_limit: rateLimit }, ['name']),
  body({ name, expires_at: expiresAt }, ['name']),
  withExtra(fc.record({ name: name.any, environment: environment.any, permissions: permissions.any, allowed_ips: allowedIps.any, expires_at: expiresAt.any, expires_in_seconds: expiresIn.any, rate_limit: rateLimit.any }, { requiredKeys: [] })),
);
export const listQuery = body({ limit, cursor, include_revoked: includeRevoked });
export const rotateBody = body({ grace_period_seconds: grace });
export const updateBody = body({ name, enabled });

/** A tool call with its arguments; `id` is resolved against the keys known when the call is made. */
export interface ToolCallCase {
  tool: string;
  id: IdChoice;
  args: Record<string, unknown>;
}

export const toolCall: fc.Arbitrary<ToolCallCase> = fc.oneof(
  fc.record({ tool: fc.constant('list_keys'), id, args: listQuery }),
  fc.record({ tool: fc.constant('get_key'), id, args: withExtra(fc.constant({})) }),
  fc.record({ tool: fc.constant('generate_key'), id, args: generateBody }),
  fc.record({ tool: fc.constant('revoke_key'), id, args: withExtra(fc.constant({})) }),
  fc.record({ tool: fc.constant('rotate_key'), id, args: rotateBody }),
  fc.record({ tool: fc.constant('update_key'), id, args: updateBody }),
  fc.record({ tool: fc.constant('whoami'), id, args: fc.oneof(fc.constant({}), extra) }),
  fc.record({ tool: fc.constant('get_usage'), id, args: fc.oneof(fc.constant({}), fc.record({ granularity: fc.constantFrom('hour', 'day', 'minute') }), extra) }),
  fc.record({ tool: fc.constant('list_events'), id, args: fc.oneof(fc.constant({}), body({ limit, cursor }), extra) }),
);

export { hostile, anyJson };
