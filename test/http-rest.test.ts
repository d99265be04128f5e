import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeEach, describe, expect, it } from 'vitest';
import { type AppWorld, appWorld, bodyOf, errorOf, makeKey } from './helpers/http-app.js';

type Key = { id: string; name: string; environment: string; permissions: string[]; is_revoked: boolean; enabled: boolean; start: string };

let w: AppWorld;
let admin: string;
beforeEach(async () => {
  w = await appWorld();
  admin = w.tenant.adminSecret;
});

describe('REST routes (in process)', () => {
  it('creates a key with POST /v1/api-keys, showing secret_key once', async () => {
    const created = await w.ask('POST', '/v1/api-keys', { key: admin, body: { name: 'CI', permissions: ['keys:read'], allowed_ips: ['10.0.0.0/8'] } });
    expect(created.status).toBe(201);
    const body = bodyOf<Key & { object: string; secret_key: string }>(created);
    expect(body).toMatchObject({ object: 'api_key', name: 'CI', permissions: ['keys:read'], allowed_ips: ['10.0.0.0/8'], environment: 'live' });
    expect(body.secret_key).toMatch(/^pk_live_/);
    expect(body.start).toBe(body.secret_key.slice(0, 12));

    const fetched = await w.ask('GET', `/v1/keys/${body.id}`, { key: admin });
    expect(fetched.status).toBe(200);
    expect(fetched.text).not.toContain(body.secret_key);
    expect(bodyOf<Key>(fetched)).toMatchObject({ id: body.id, name: 'CI' });
  });

  it('lists keys as apiKeys with a cursor, hiding revoked keys unless asked', async () => {
    w.clock.advance(1_000);
    const a = await makeKey(w, { name: 'a' });
    w.clock.advance(1_000);
    const b = await makeKey(w, { name: 'b' });
    w.service.revoke(await w.callerOf(admin), { id: a.id });
    const page = bodyOf<{ apiKeys: Key[]; next_cursor: string | null }>(await w.ask('GET', '/v1/keys?limit=1', { key: admin }));
    expect(page.apiKeys.map((k) => k.id)).toEqual([b.id]);
    expect(page.next_cursor).toEqual(expect.any(String));
    const next = bodyOf<{ apiKeys: Key[]; next_cursor: string | null }>(await w.ask('GET', `/v1/keys?limit=1&cursor=${page.next_cursor}`, { key: admin }));
    expect(next.apiKeys.map((k) => k.id)).toEqual([w.tenant.adminId]);
    expect(next.next_cursor).toBeNull();
    const all = bodyOf<{ apiKeys: Key[] }>(await w.ask('GET', '/v1/keys?include_revoked=true', { key: admin }));
    expect(all.apiKeys.map((k) => k.id)).toEqual([b.id, a.id, w.tenant.adminId]);
  });

  it('names the query parameter that is wrong', async () => {
    for (const [query, field] of [
      ['limit=abc', 'limit'],
      ['limit=1000', 'limit'],
      ['include_revoked=maybe', 'include_revoked'],
      ['colour=blue', ''],
    ] as const) {
      const answer = await w.ask('GET', `/v1/keys?${query}`, { key: admin });
      expect(answer.status).toBe(400);
      const error = errorOf(answer);
      expect(error.type).toBe('INVALID_REQUEST');
      expect(JSON.stringify(error.details)).toContain(field || 'colour');
    }
  });

  it("generates a key like the caller's with GET /v1/keys/new", async () => {
    const reader = await makeKey(w, { permissions: ['keys:read', 'keys:write', 'nodes.read.own'], environment: 'test' });
    const answer = await w.ask('GET', '/v1/keys/new', { key: reader.secret });
    expect(answer.status).toBe(200);
    const body = bodyOf<{ publicKey: string; message: string; key: Key }>(answer);
    expect(body.message).toBe('API key generated successfully');
    expect(body.publicKey).toMatch(/^pk_test_/);
    expect(body.key).toMatchObject({ environment: 'test', permissions: ['keys:read', 'keys:write', 'nodes.read.own'], name: 'Generated API key' });
    const named = bodyOf<{ key: Key }>(await w.ask('GET', '/v1/keys/new?name=Laptop&environment=test', { key: admin }));
    expect(named.key).toMatchObject({ name: 'Laptop', environment: 'test', permissions: ['admin'] });
  });

  it('renames and disables with PATCH, and refuses to disable the calling key', async () => {
    const k = await makeKey(w);
    const renamed = await w.ask('PATCH', `/v1/keys/${k.id}`, { key: admin, body: { name: 'renamed', enabled: false } });
    expect(bodyOf<Key>(renamed)).toMatchObject({ name: 'renamed', enabled: false });
    expect(errorOf(await w.ask('GET', '/v1/me', { key: k.secret })).type).toBe('DISABLED_API_KEY');
    const self = await w.ask('PATCH', `/v1/keys/${w.tenant.adminId}`, { key: admin, body: { enabled: false } });
    expect(self.status).toBe(409);
    expect(errorOf(self).type).toBe('CANNOT_REVOKE_SELF');
    const nothing = await w.ask('PATCH', `/v1/keys/${k.id}`, { key: admin, body: {} });
    expect(errorOf(nothing).type).toBe('INVALID_REQUEST');
  });

  it('revokes with DELETE, effective on the next request, but never the calling key', async () => {
    const k = await makeKey(w);
    const revoked = await w.ask('DELETE', `/v1/keys/${k.id}`, { key: admin });
    expect(bodyOf<Key>(revoked)).toMatchObject({ id: k.id, is_revoked: true });
    expect(errorOf(await w.ask('GET', '/v1/me', { key: k.secret })).type).toBe('REVOKED_API_KEY');
    const self = await w.ask('DELETE', `/v1/keys/${w.tenant.adminId}`, { key: admin });
    expect(self.status).toBe(409);
    expect(errorOf(self)).toMatchObject({ code: 409, type: 'CANNOT_REVOKE_SELF' });
  });

  it('rotates with an optional body; grace 0 ends the old key at once', async () => {
    const k = await makeKey(w);
    const graceful = await w.ask('POST', `/v1/keys/${k.id}/rotate`, { key: admin });
    expect(graceful.status).toBe(200);
    const first = bodyOf<{ key: Key; secret: string; previous: Key & { expires_at: string } }>(graceful);
    expect(first.previous.expires_at).toEqual(expect.any(String));
    expect((await w.ask('GET', '/v1/me', { key: k.secret })).status).toBe(200);
    const now = await w.ask('POST', `/v1/keys/${first.key.id}/rotate`, { key: admin, body: { grace_period_seconds: 0 } });
    const second = bodyOf<{ secret: string; previous: Key }>(now);
    expect(second.previous.is_revoked).toBe(true);
    expect(errorOf(await w.ask('GET', '/v1/me', { key: first.secret })).type).toBe('REVOKED_API_KEY');
    expect((await w.ask('GET', '/v1/me', { key: second.secret })).status).toBe(200);
  });

  it('answers whoami at GET /v1/me with the quota after this request, as the headers say', async () => {
    const answer = await w.ask('GET', '/v1/me', { key: admin });
    const me = bodyOf<{ organization: { id: string }; limits: { hourly: { limit: number; remaining: number; reset_at: string } } }>(answer);
    expect(me.organization.id).toBe(w.tenant.org.id);
    expect(me.limits.hourly).toMatchObject({ limit: 100, remaining: 99 });
    expect(answer.headers.get('x-ratelimit-limit')).toBe('100');
    expect(answer.headers.get('x-ratelimit-remaining')).toBe('99');
    expect(Number(answer.headers.get('x-ratelimit-reset')) * 1000).toBe(Date.parse(me.limits.hourly.reset_at));
    const resetIn = Math.ceil((Date.parse(me.limits.hourly.reset_at) - w.clock.now) / 1000);
    expect(answer.headers.get('ratelimit-policy')).toBe('"hourly";q=100;w=3600');
    expect(answer.headers.get('ratelimit')).toBe(`"hourly";r=99;t=${resetIn}`);
  });
});

describe('limits over REST', () => {
  it("answers 429 with Retry-After once a key's own rate limit is spent, and again after the window", async () => {
    const k = await makeKey(w, { rate_limit: { max: 2, window_ms: 60_000 } });
    const first = await w.ask('GET', '/v1/me', { key: k.secret });
    expect(first.headers.get('ratelimit-policy')).toBe('"key";q=2;w=60');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
    await w.ask('GET', '/v1/keys', { key: k.secret });
    const refused = await w.ask('GET', '/v1/me', { key: k.secret });
    expect(refused.status).toBe(429);
    const error = errorOf(refused);
    expect(error).toMatchObject({ code: 429, type: 'RATE_LIMIT_EXCEEDED', details: { remaining: 0 } });
    expect(Number(refused.headers.get('retry-after'))).toBe(error.details.retry_after);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(refused.headers.get('x-ratelimit-limit')).toBe('2');
    w.clock.advance(60_000);
    expect((await w.ask('GET', '/v1/me', { key: k.secret })).status).toBe(200);
  });

  it('holds a concurrency slot for the whole request and refuses one past the limit', async () => {
    // Test keys of the free plan may run one request at a time.
    const k = await makeKey(w, { environment: 'test' });
    let finish: (text: string) => void = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        finish = (text) => {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        };
      },
    });
    const slow = w.app.request('/v1/api-keys', {
      method: 'POST',
      headers: { authorization: `Bearer ${k.secret}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    // Let the slow request be admitted (the gate answers after its commit, a turn later).
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    const refused = await w.ask('GET', '/v1/me', { key: k.secret });
    expect(refused.status).toBe(429);
    expect(errorOf(refused)).toMatchObject({ type: 'CONCURRENCY_LIMIT_EXCEEDED', details: { limit: 1, in_flight: 1 } });
    expect(refused.headers.get('retry-after')).toBe('1');
    finish('{"name":"made while another waited"}');
    expect((await slow).status).toBe(201);
    expect((await w.ask('GET', '/v1/me', { key: k.secret })).status).toBe(200);
  });
});

describe('bad input over REST', () => {
  it('answers malformed JSON, a wrong content type and a non-object body with INVALID_REQUEST', async () => {
    const cases = [
      { body: '{"name": "x",', headers: { 'content-type': 'application/json' } },
      { body: '{"name":"x"}', headers: { 'content-type': 'text/plain' } },
      { body: '["x"]', headers: { 'content-type': 'application/json' } },
      { body: 'null', headers: { 'content-type': 'application/json' } },
      { body: '', headers: { 'content-type': 'application/json' } },
    ];
    for (const c of cases) {
      const answer = await w.ask('POST', '/v1/api-keys', { key: admin, ...c });
      expect(answer.status).toBe(400);
      expect(errorOf(answer)).toMatchObject({ code: 400, type: 'INVALID_REQUEST' });
    }
  });

  it('names unknown and invalid fields', async () => {
    const answer = await w.ask('POST', '/v1/api-keys', { key: admin, body: { name: '', permissions: 'admin', colour: 'blue' } });
    const issues = (errorOf(answer).details.issues as Array<{ path: string }>).map((i) => i.path);
    expect(issues).toEqual(expect.arrayContaining(['name', 'permissions']));
    expect(errorOf(answer).message).toContain('colour');
  });

  it('refuses a body over the limit with 413 before looking at the key', async () => {
    const small = await appWorld({ bodyLimit: 1024 });
    const answer = await small.ask('POST', '/v1/api-keys', { key: small.tenant.adminSecret, body: { name: 'x'.repeat(2000) } });
    expect(answer.status).toBe(413);
    expect(errorOf(answer)).toMatchObject({ code: 413, type: 'PAYLOAD_TOO_LARGE', details: { limit: 1024 } });
    expect(answer.headers.has('x-ratelimit-remaining')).toBe(false);
    expect((await small.callerOf(small.tenant.adminSecret)).window.remaining).toBe(100);
  });

  it('refuses JSON nested past the depth limit', async () => {
    const deep = `{"name":"x","permissions":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const answer = await w.ask('POST', '/v1/api-keys', { key: admin, body: deep, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(errorOf(answer).message).toMatch(/nested deeper than 64/);
  });

  it('answers unknown routes and wrong methods with NOT_FOUND in the envelope', async () => {
    const unknown = await w.ask('GET', '/v2/keys');
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown)).toMatchObject({ code: 404, type: 'NOT_FOUND', message: 'Unrecognized request URL (GET: /v2/keys)' });
    const wrong = await w.ask('PUT', '/v1/keys/key_abc', { key: admin });
    expect(wrong.status).toBe(404);
    expect(wrong.headers.get('allow')).toBe('GET, PATCH, DELETE');
    const secretPath = await w.ask('GET', `/ot/${admin}/tools`);
    expect(secretPath.status).toBe(404);
    expect(secretPath.text).not.toContain(admin);
    expect(errorOf(secretPath).message).toContain('/ot/[redacted]/tools');
  });

  it('answers INTERNAL_ERROR with nothing internal when the store fails, and logs why', async () => {
    w.store.close();
    const answer = await w.ask('GET', '/v1/keys', { key: admin });
    expect(answer.status).toBe(500);
    expect(answer.json).toEqual({ error: { code: 500, type: 'INTERNAL_ERROR', message: 'Internal error', details: {} } });
    expect(answer.text).not.toMatch(/sqlite|database|at |\.ts|\.js/i);
  });
});

describe('a read-only server', () => {
  it('refuses every write route with 403 and serves the reads', async () => {
    const ro = await appWorld({ readOnly: true });
    const key = ro.tenant.adminSecret;
    expect((await ro.ask('GET', '/v1/keys', { key })).status).toBe(200);
    for (const [method, path, body] of [
      ['POST', '/v1/api-keys', { name: 'x' }],
      ['GET', '/v1/keys/new', undefined],
      ['PATCH', `/v1/keys/${ro.tenant.adminId}`, { name: 'x' }],
      ['DELETE', `/v1/keys/${ro.tenant.adminId}`, undefined],
      ['POST', `/v1/keys/${ro.tenant.adminId}/rotate`, undefined],
    ] as const) {
      const answer = await ro.ask(method, path, { key, body });
      expect(answer.status).toBe(403);
      expect(errorOf(answer)).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS', details: { read_only: true } });
    }
    expect(ro.count('keys')).toBe(1);
  });
});

describe('the access log', () => {
  it('writes one JSON line per request with the key start only, and echoes the request id', async () => {
    const answer = await w.ask('GET', '/v1/me', { key: admin, headers: { 'x-request-id': 'trace-42' } });
    expect(answer.headers.get('x-request-id')).toBe('trace-42');
    await w.rpc(`/ot/${admin}`, undefined, 'ping');
    const generated = await w.ask('GET', '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-z]+-[0-9a-z]+-[0-9a-z]+$/);
    const revoked = await makeKey(w);
    w.service.revoke(await w.callerOf(admin), { id: revoked.id });
    await w.ask('GET', '/v1/keys', { key: revoked.secret });
    await w.rpc(`/ot/${revoked.secret}`, undefined, 'ping');
    await w.ask('GET', '/v1/keys', { key: 'not-a-key-at-all' });
    const lines = w.logs.filter((l) => l.msg === 'request');
    expect(lines).toEqual([
      expect.objectContaining({ request_id: 'trace-42', method: 'GET', path: '/v1/me', status: 200, key: admin.slice(0, 12), ms: expect.any(Number) }),
      expect.objectContaining({ method: 'POST', path: '/ot/[redacted]', status: 200, key: admin.slice(0, 12) }),
      expect.objectContaining({ method: 'GET', path: '/healthz', status: 200, key: null }),
      // A refused key is named by its start too, so an operator can tell which one keeps failing.
      expect.objectContaining({ method: 'GET', path: '/v1/keys', status: 401, key: revoked.secret.slice(0, 12) }),
      expect.objectContaining({ method: 'POST', path: '/ot/[redacted]', status: 401, key: revoked.secret.slice(0, 12) }),
      expect.objectContaining({ method: 'GET', path: '/v1/keys', status: 401, key: null }),
    ]);
    expect(JSON.stringify(w.logs)).not.toContain(admin);
    expect(JSON.stringify(w.logs)).not.toContain(revoked.secret);
  });
});

describe('GET /v1/openapi.json', () => {
  it('describes every route from the zod schemas, with references that resolve', async () => {
    const doc = bodyOf<{
      openapi: string;
      paths: Record<string, Record<string, { operationId: string }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    }>(await w.ask('GET', '/v1/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'GET /v1/keys',
        'GET /v1/keys/new',
        'POST /v1/api-keys',
        'GET /v1/keys/{id}',
        'PATCH /v1/keys/{id}',
        'DELETE /v1/keys/{id}',
        'POST /v1/keys/{id}/rotate',
        'POST /v1/keys/verify',
        'POST /v1/leases/{id}/release',
        'GET /v1/me',
        'GET /v1/usage',
        'GET /v1/events',
        'GET /v1/openapi.json',
        'GET /healthz',
        'POST /v1/reveals',
      ].sort(),
    );
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)];
    expect(refs.length).toBeGreaterThan(10);
    for (const [, kind, name] of refs) expect((doc.components as Record<string, Record<string, unknown>>)[kind!]?.[name!], `${kind}/${name}`).toBeDefined();
    expect(Object.keys(doc.components.schemas.KeyList?.properties ?? {})).toEqual(['apiKeys', 'next_cursor']);
    expect(Object.keys(doc.components.schemas.ApiKeyCreated?.properties ?? {})).toEqual(expect.arrayContaining(['object', 'secret_key', 'id']));
    expect(doc.components.schemas.CreateKeyRequest?.properties).toHaveProperty('allowed_ips');
  });

  it('is a valid OpenAPI 3.1 document by the specification\'s own schema, its references all resolving', async () => {
    const doc = bodyOf<Record<string, unknown>>(await w.ask('GET', '/v1/openapi.json'));
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // Dereferencing fails on a $ref that points nowhere.
    const resolved = validator.resolveRefs() as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(JSON.stringify(resolved.paths['/v1/api-keys'])).not.toContain('$ref');
  });
});
