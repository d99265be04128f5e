import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { Gate } from '../core/auth.js';
import { credential, worldsClosedAfterEach } from '../testing/fixtures.js';
import { AccessTokens } from './access-tokens.js';
import { clientCredentials } from './client-credentials.js';
import { OAuthError } from './errors.js';
import { type TokenRequest, parseTokenRequest } from './token-request.js';

const BASE = 'http://127.0.0.1:8787';
const world = worldsClosedAfterEach();

async function setup() {
  const w = await world();
  const tokens = new AccessTokens(w.store, { issuer: BASE, clock: w.clock.read });
  const gate = new Gate(w.store, w.clock.read, { accessTokens: tokens });
  const deps = { authenticate: (c: Parameters<Gate['peek']>[0]) => gate.peek(c), tokens };
  const request = (fields: Partial<TokenRequest>): TokenRequest => ({
    grant_type: 'client_credentials',
    client_id: w.tenant.adminId,
    client_secret: w.tenant.adminSecret,
    scope: undefined,
    resource: undefined,
    ...fields,
  });
  return { w, tokens, gate, deps, request };
}

async function oauthErrorOf(promise: Promise<unknown>): Promise<OAuthError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('expected an OAuthError, but the call succeeded');
}

function oauthErrorOfSync(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('expected an OAuthError, but the call succeeded');
}

describe('clientCredentials', () => {
  it("grants a key's own permissions when no scope is asked for", async () => {
    const s = await setup();
    const issued = await clientCredentials(s.request({}), '127.0.0.1', s.deps);
    expect(issued).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'admin' });
    expect(decodeJwt(issued.access_token)).toMatchObject({ sub: s.w.tenant.adminId, aud: BASE });
  });

  it('narrows to the scopes asked for; admin covers keys:read and keys:write', async () => {
    const s = await setup();
    const issued = await clientCredentials(s.request({ scope: 'keys:read keys:write keys:read' }), '127.0.0.1', s.deps);
    expect(issued.scope).toBe('keys:read keys:write');
    const caller = await s.gate.peek(credential(issued.access_token));
    expect(caller.key.permissions).toEqual(['keys:read', 'keys:write']);
  });

  it('answers invalid_scope for a scope the key does not hold, or a malformed one', async () => {
    const s = await setup();
    const admin = await s.w.callerOf(s.w.tenant.adminSecret);
    const reader = (await s.w.service.execute('generateKey', admin, { name: 'reader', permissions: ['keys:read'] }));
    const asReader = { client_id: reader.key.id, client_secret: reader.secret };
    const wider = await oauthErrorOf(clientCredentials(s.request({ ...asReader, scope: 'keys:read keys:write' }), '127.0.0.1', s.deps));
    expect(wider).toMatchObject({ code: 'invalid_scope', status: 400 });
    expect(wider.description).toContain('keys:write');
    // admin covers the checked permissions, not arbitrary ones it does not hold.
    expect((await oauthErrorOf(clientCredentials(s.request({ scope: 'nodes.read.own' }), '127.0.0.1', s.deps))).code).toBe('invalid_scope');
    expect((await oauthErrorOf(clientCredentials(s.request({ scope: 'keys:read  keys:write' }), '127.0.0.1', s.deps))).code).toBe('invalid_scope');
    expect((await oauthErrorOf(clientCredentials(s.request({ scope: 'a"b' }), '127.0.0.1', s.deps))).code).toBe('invalid_scope');
  });

  it('answers unsupported_grant_type for another grant, and invalid_request without one', async () => {
    const s = await setup();
    for (const grant_type of ['password', 'authorization_code', 'refresh_token']) {
      expect(await oauthErrorOf(clientCredentials(s.request({ grant_type }), '127.0.0.1', s.deps))).toMatchObject({ code: 'unsupported_grant_type', status: 400 });
    }
    expect((await oauthErrorOf(clientCredentials(s.request({ grant_type: undefined }), '127.0.0.1', s.deps))).code).toBe('invalid_request');
  });

  it('answers invalid_client (401) for a missing, wrong, foreign or access-token secret, and a mismatched id', async () => {
    const s = await setup();
    const other = await s.w.addTenant({ name: 'Other' });
    const token = (await clientCredentials(s.request({}), '127.0.0.1', s.deps)).access_token;
    const cases: Array<Partial<TokenRequest>> = [
      { client_secret: undefined },
      { client_id: undefined },
      { client_secret: 'pk_live_nope' },
      { client_secret: `${s.w.tenant.adminSecret.slice(0, -1)}${s.w.tenant.adminSecret.endsWith('x') ? 'y' : 'x'}` },
      { client_secret: other.adminSecret },
      { client_id: other.adminId },
      { client_secret: token },
    ];
    for (const fields of cases) {
      const error = await oauthErrorOf(clientCredentials(s.request(fields), '127.0.0.1', s.deps));
      expect(error, JSON.stringify(Object.keys(fields))).toMatchObject({ code: 'invalid_client', status: 401 });
      expect(JSON.stringify(error.toBody())).not.toContain(s.w.tenant.adminSecret);
    }
  });

  it('answers invalid_client for a revoked, disabled or expired key, and from an address its allowlist refuses', async () => {
    const s = await setup();
    const admin = await s.w.callerOf(s.w.tenant.adminSecret);
    const make = async (input: Record<string, unknown>) => (await s.w.service.execute('generateKey', admin, { name: 'k', permissions: ['keys:read'], ...input }));
    const revoked = await make({});
    (await s.w.service.execute('revokeKey', admin, { id: revoked.key.id }));
    const disabled = await make({});
    (await s.w.service.execute('updateKey', admin, { id: disabled.key.id, enabled: false }));
    const expiring = await make({ expires_in_seconds: 60 });
    const office = await make({ allowed_ips: ['10.0.0.0/8'] });
    s.w.clock.advance(60_000);
    for (const [created, pattern] of [
      [revoked, /revoked/],
      [disabled, /disabled/],
      [expiring, /expired/],
      [office, /IP address/],
    ] as const) {
      const error = await oauthErrorOf(clientCredentials(s.request({ client_id: created.key.id, client_secret: created.secret }), '127.0.0.1', s.deps));
      expect(error.code).toBe('invalid_client');
      expect(error.description).toMatch(pattern);
    }
    await clientCredentials(s.request({ client_id: office.key.id, client_secret: office.secret }), '10.2.3.4', s.deps);
  });

  it('answers invalid_target for a resource that is not this server', async () => {
    const s = await setup();
    expect(await oauthErrorOf(clientCredentials(s.request({ resource: 'https://evil.example/mcp' }), '127.0.0.1', s.deps))).toMatchObject({
      code: 'invalid_target',
      status: 400,
    });
    const issued = await clientCredentials(s.request({ resource: `${BASE}/mcp` }), '127.0.0.1', s.deps);
    expect(decodeJwt(issued.access_token).aud).toBe(`${BASE}/mcp`);
  });

  it('answers invalid_target for a resource holding a key or a token, however the path spells it', async () => {
    const s = await setup();
    const key = s.w.tenant.adminSecret;
    const jwt = (await clientCredentials(s.request({}), '127.0.0.1', s.deps)).access_token;
    const resources = [
      `${BASE}/ot/${key}`,
      `${BASE}/OT/${key}`,
      `${BASE}//ot/${key}`,
      `${BASE}/ot//${key}`,
      `${BASE}/Ot/${key}/readonly`,
      `${BASE}/v1/keys/${key}`,
      `${BASE}/mcp/${key.replace('pk_live_', 'PK_LIVE_')}`,
      `${BASE}/mcp/${key.replace('pk_', '%70k%5F')}`,
      `${BASE}/mcp/${jwt}`,
    ];
    for (const resource of resources) {
      const error = await oauthErrorOf(clientCredentials(s.request({ resource }), '127.0.0.1', s.deps));
      expect(error.code, resource).toBe('invalid_target');
      expect(error.description).not.toContain(key);
    }
  });

  it('charges nothing for issuing', async () => {
    const s = await setup();
    const before = (await s.w.callerOf(s.w.tenant.adminSecret)).window.remaining;
    await clientCredentials(s.request({}), '127.0.0.1', s.deps);
    expect((await s.w.callerOf(s.w.tenant.adminSecret)).window.remaining).toBe(before);
  });
});

describe('parseTokenRequest', () => {
  const form = 'application/x-www-form-urlencoded';
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  it('reads the form body, and credentials from HTTP Basic', async () => {
    expect(parseTokenRequest({ contentType: `${form}; charset=UTF-8`, body: 'grant_type=client_credentials&client_id=key_a&client_secret=s&scope=keys%3Aread+keys%3Awrite', authorization: undefined, query: '' })).toEqual({
      grant_type: 'client_credentials',
      client_id: 'key_a',
      client_secret: 's',
      scope: 'keys:read keys:write',
      resource: undefined,
    });
    expect(parseTokenRequest({ contentType: form, body: 'grant_type=client_credentials&resource=http%3A%2F%2Fh%2Fmcp', authorization: basic('key_a', 'pk_x'), query: '' })).toMatchObject({
      client_id: 'key_a',
      client_secret: 'pk_x',
      resource: 'http://h/mcp',
    });
  });

  it('answers invalid_request for another content type, a repeated parameter, credentials in the URL or two authentication methods', async () => {
    const cases = [
      { contentType: 'application/json', body: '{"grant_type":"client_credentials"}', authorization: undefined, query: '' },
      { contentType: undefined, body: 'grant_type=client_credentials', authorization: undefined, query: '' },
      { contentType: form, body: 'grant_type=client_credentials&scope=a&scope=b', authorization: undefined, query: '' },
      { contentType: form, body: 'grant_type=client_credentials', authorization: undefined, query: 'client_secret=pk_x' },
      { contentType: form, body: 'grant_type=client_credentials&client_secret=s', authorization: basic('key_a', 's'), query: '' },
      { contentType: form, body: 'grant_type=client_credentials&client_id=key_b', authorization: basic('key_a', 's'), query: '' },
    ];
    for (const raw of cases) expect(oauthErrorOfSync(() => parseTokenRequest(raw)).code, JSON.stringify(raw)).toBe('invalid_request');
  });

  it('answers invalid_client for a malformed Authorization header, and invalid_target for two resources', async () => {
    for (const authorization of ['Bearer abc', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
      expect(oauthErrorOfSync(() => parseTokenRequest({ contentType: form, body: 'grant_type=client_credentials', authorization, query: '' })).code).toBe('invalid_client');
    }
    expect(oauthErrorOfSync(() => parseTokenRequest({ contentType: form, body: 'resource=http%3A%2F%2Fa&resource=http%3A%2F%2Fb', authorization: undefined, query: '' })).code).toBe(
      'invalid_target',
    );
  });
});
