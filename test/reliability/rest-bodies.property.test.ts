import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isErrorType, statusOf } from '../../src/core/errors.js';
import { createApp } from '../../src/http/app.js';
import { ROUTES } from '../../src/http/routes/index.js';
import { anyJson, generateBody, hostile, listQuery, rotateBody, updateBody } from '../helpers/reliability-arbitraries.js';
import { auditText, databaseBytes, invariantViolations, tempDir } from '../helpers/reliability-db.js';
import { type LocalWorld, openWorld } from '../helpers/reliability-local.js';
import { ServeProcess, cliEnv } from '../helpers/reliability-proc.js';
import { SecretLedger } from '../helpers/reliability-secrets.js';
import { fcOptions } from './runs.js';

/**
 * Every REST route under generated requests: bodies, query strings, ids, credentials and raw bytes
 * a client may send. Whatever comes in, the answer is a contract answer (never a 5xx), and the
 * database rules hold afterwards. Runs in-process (app.request, thousands of cases) and against a
 * real server on loopback (fewer cases, the real Node request path).
 */

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

interface Got {
  status: number;
  headers: Headers;
  text: string;
}

type Transport = (req: Sent) => Promise<Got>;

/** A value in about one case of seven, else undefined. */
const rarely = <T>(value: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });

/** A request: which route, which id, which body or query, which credential. */
const restCase = fc.record({
  route: fc.constantFrom('list', 'new', 'create', 'get', 'update', 'revoke', 'rotate', 'me', 'openapi', 'healthz', 'unknown'),
  id: fc.oneof({ weight: 5, arbitrary: fc.nat().map((n) => ({ known: n })) }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^key_[0-9A-Za-z]{1,30}$/)).map((s) => ({ made: s })) }),
  generate: generateBody,
  list: listQuery,
  rotate: fc.option(rotateBody, { nil: undefined }),
  update: updateBody,
  newQuery: fc.record({ name: fc.oneof(fc.string({ maxLength: 120 }), fc.constant('')), environment: fc.constantFrom('live', 'test', 'prod') }, { requiredKeys: [] }),
  /** Replaces the JSON body with raw text: broken JSON, deep nesting, a wrong type at the top. */
  raw: rarely(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      anyJson.map((v) => JSON.stringify(v)),
      fc.nat({ max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.nat({ max: 300_000 }).map((n) => JSON.stringify({ name: 'x'.repeat(n) })),
      hostile.map((v) => `${JSON.stringify(v)}garbage`),
    ),
  ),
  contentType: fc.oneof(
    { weight: 8, arbitrary: fc.constant('application/json') },
    { weight: 2, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', '') },
  ),
  caller: fc.nat(),
  header: fc.oneof({ weight: 6, arbitrary: fc.constant('bearer') }, { weight: 3, arbitrary: fc.constant('x-api-key') }, fc.constant('lowercase bearer'), fc.constant('basic')),
  org: rarely(fc.oneof(fc.constant('OWN'), fc.string({ maxLength: 30 }))),
});
type RestCase = typeof restCase extends fc.Arbitrary<infer T> ? T : never;

/** The routes of an app without OAuth, which is what these tests serve. */
// verify, leases, usage and events have their own refusal and bad-input tests (test/http-verify.test.ts, test/http-activity.test.ts).
const SERVED = ROUTES.filter((r) => r.enabled === undefined && !['verifyKey', 'releaseLease', 'getUsage', 'listEvents'].includes(r.operationId));
const routeOf = (method: string, path: string) => SERVED.find((r) => r.method === method && new RegExp(`^${r.path.replace(/:\w+/g, '[^/]+')}$`).test(path));

describe('every REST route under generated requests', () => {
  const tmp = tempDir('rest');
  const ledger = new SecretLedger();
  const otherResponses: string[] = [];
  let world: LocalWorld;
  let orgId: string;
  const callers: Array<string | undefined> = [];
  const known: string[] = [];
  let server: ServeProcess;

  beforeAll(async () => {
    world = openWorld(tmp.db());
    const admin = await world.createOrg('enterprise', { requests_per_hour: 1_000_000_000, max_concurrency: 1_000 });
    orgId = admin.orgId;
    ledger.record(admin.secret, 'createOrganization');
    const caller = (await world.gate.admit({ token: admin.secret, ip: '127.0.0.1' })).caller;
    const make = async (input: Record<string, unknown>) => {
      const created = await world.service.execute('generateKey', caller, input);
      ledger.record(created.secret, `generate ${input.name as string}`);
      return created;
    };
    const writer = await make({ name: 'writer', permissions: ['keys:read', 'keys:write'] });
    const reader = await make({ name: 'reader', permissions: ['keys:read'] });
    for (let i = 0; i < 12; i++) known.push((await make({ name: `pool ${i}`, permissions: i % 2 ? ['keys:read'] : ['admin'] })).key.id);
    // Mostly keys that may act; some that may not, none, or a malformed one.
    callers.push(admin.secret, admin.secret, admin.secret, writer.secret, reader.secret, undefined, 'pk_live_broken');
    const other = await world.createOrg('free');
    ledger.record(other.secret, 'createOrganization (other org)');
    known.push(other.keyId);
    server = new ServeProcess(cliEnv(tmp.dir, { DISPERSL_DB: tmp.db() }));
  });

  afterAll(async () => {
    await server.stop();
    world.close();
    tmp.cleanup();
  });

  function build(c: RestCase): Sent {
    const id = 'known' in c.id ? known[c.id.known % known.length]! : encodeURIComponent(c.id.made);
    const json = (value: unknown) => (c.raw !== undefined ? c.raw : JSON.stringify(value));
    const q = (params: Record<string, unknown>) =>
      `?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')])).toString()}`;
    const key = callers[c.caller % callers.length];
    const headers: Record<string, string> = {};
    if (key !== undefined) {
      if (c.header === 'bearer') headers.authorization = `Bearer ${key}`;
      else if (c.header === 'lowercase bearer') headers.authorization = `bearer ${key}`;
      else if (c.header === 'x-api-key') headers['x-api-key'] = key;
      else headers.authorization = `Basic ${Buffer.from(`user:${key}`).toString('base64')}`;
    }
    if (c.org !== undefined) headers['x-organization-id'] = c.org === 'OWN' ? orgId : c.org;
    const withBody = (method: string, path: string, body: string | undefined): Sent => {
      if (body !== undefined && c.contentType !== '') headers['content-type'] = c.contentType;
      return { method, path, headers, ...(body !== undefined && { body }) };
    };
    switch (c.route) {
      case 'list':
        return withBody('GET', `/v1/keys${q(c.list)}`, undefined);
      case 'new':
        return withBody('GET', `/v1/keys/new${q(c.newQuery)}`, undefined);
      case 'create':
        return withBody('POST', '/v1/api-keys', json(c.generate));
      case 'get':
        return withBody('GET', `/v1/keys/${id}`, undefined);
      case 'update':
        return withBody('PATCH', `/v1/keys/${id}`, json(c.update));
      case 'revoke':
        return withBody('DELETE', `/v1/keys/${id}`, undefined);
      case 'rotate':
        return withBody('POST', `/v1/keys/${id}/rotate`, c.rotate === undefined && c.raw === undefined ? undefined : json(c.rotate));
      case 'me':
        return withBody('GET', '/v1/me', undefined);
      case 'openapi':
        return withBody('GET', '/v1/openapi.json', undefined);
      case 'healthz':
        return withBody('GET', '/healthz', undefined);
      case 'unknown':
        return withBody('PUT', `/v1/keys/${id}`, json(c.update));
    }
  }

  const tally = new Map<string, number>();

  /** The contract every answer keeps, whatever was asked. */
  function check(sent: Sent, got: Got): void {
    const label = `${routeOf(sent.method, sent.path.split('?')[0]!)?.operationId ?? 'none'} ${got.status}`;
    tally.set(label, (tally.get(label) ?? 0) + 1);
    const where = `${sent.method} ${sent.path} ${sent.body?.slice(0, 200) ?? ''} -> ${got.status} ${got.text.slice(0, 300)}`;
    expect(got.status, where).toBeLessThan(500);
    if (process.env.DISPERSL_RELIABILITY_DEBUG && label === process.env.DISPERSL_RELIABILITY_DEBUG) console.log(where);
    const body = JSON.parse(got.text) as Record<string, unknown>;
    if (got.status >= 400) {
      const error = (body as { error: { code: number; type: string; message: string; details: unknown } }).error;
      expect(isErrorType(error.type), where).toBe(true);
      expect(error.code, where).toBe(got.status);
      expect(statusOf(error.type as never), where).toBe(got.status);
      expect(typeof error.message).toBe('string');
      expect(error.message, where).not.toMatch(/SQLITE|TypeError|RangeError|ReferenceError|\sat \S+ \(|file:\/\/|node:internal/);
      if (got.status === 401) expect(got.headers.get('www-authenticate'), where).toMatch(/^Bearer/);
      if (got.status === 429) expect(got.headers.get('retry-after'), where).toBeTruthy();
      otherResponses.push(got.text);
      return;
    }
    const route = routeOf(sent.method, sent.path.split('?')[0]!);
    expect(route, where).toBeDefined();
    if (route!.auth) expect(got.headers.get('x-ratelimit-limit'), where).toBeTruthy();
    const parsed = route!.response.safeParse(body);
    expect(parsed.success, where).toBe(true);
    const secret = (body.secret_key ?? body.publicKey ?? body.secret) as string | undefined;
    if (secret !== undefined) {
      ledger.record(secret, `${sent.method} ${sent.path}`);
      const id = (body.id ?? (body.key as { id: string }).id) as string;
      known.push(id);
    } else otherResponses.push(got.text);
  }

  const inProcess: Transport = async (req) => {
    const app = appOf();
    const res = await app.request(req.path, { method: req.method, headers: req.headers, ...(req.body !== undefined && { body: req.body }) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  let app: ReturnType<typeof createApp> | undefined;
  const appOf = () => (app ??= createApp({ gate: world.gate, service: world.service, dispatcher: world.dispatcher, logger: world.logger, version: 'test' }));

  const overLoopback: Transport = async (req) => {
    const base = await server.url();
    const res = await fetch(base + req.path, {
      method: req.method,
      headers: req.headers,
      ...(req.body !== undefined && { body: req.body }),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  it('answers every generated request in-process with the contract, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(restCase, { minLength: 1, maxLength: 3 }), async (cases) => {
        await Promise.all(
          cases.map(async (c) => {
            const sent = build(c);
            check(sent, await inProcess(sent));
          }),
        );
      }),
      fcOptions(1500),
    );
    if (process.env.DISPERSL_RELIABILITY_VERBOSE) console.log(Object.fromEntries([...tally].sort()));
    // Every route was seen both answering and refusing.
    for (const route of SERVED) {
      const seen = [...tally.keys()].filter((k) => k.startsWith(`${route.operationId} `));
      expect(seen.some((k) => /\s2\d\d$/.test(k)), `${route.operationId}: ${seen.join(', ')}`).toBe(true);
    }
    expect(invariantViolations(tmp.db())).toEqual([]);
  });

  it('answers every generated request over real loopback HTTP with the contract, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(restCase, async (c) => {
        const sent = build(c);
        check(sent, await overLoopback(sent));
      }),
      fcOptions(300),
    );
    expect(server.stderr).not.toMatch(/"status":5\d\d|"level":"error"/);
    expect(invariantViolations(tmp.db())).toEqual([]);
  });

  it('never lets an issued token reach a log line, an audit row, another answer or the database file', () => {
    expect(ledger.size).toBeGreaterThan(20);
    expect(
      ledger.leaks({
        'in-process log': world.logLines.join('\n'),
        'server log': server.stderr + server.stdout,
        'audit rows': auditText(tmp.db()),
        'other answers': otherResponses.join('\n'),
        'database file': databaseBytes(tmp.db()),
      }),
    ).toEqual([]);
  });
});
