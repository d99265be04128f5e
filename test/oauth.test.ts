import { type ChildProcess, spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Database from 'better-sqlite3';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type Initialized, type Sandbox, awayFromHourEdge, init, sandbox } from './helpers/sandbox.js';

/**
 * OAuth 2.0 client credentials against a real `dispersl-mcp serve` process: discovery from a 401,
 * the token endpoint's RFC 6749 answers, and access tokens on the REST API and on /mcp.
 */

interface Server {
  url: string;
  child: ChildProcess;
  stderr: () => string;
}

function startServe(box: Sandbox): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { env: box.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start:\n${stderr}`));
    }, 20_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const url = /"msg":"dispersl-mcp serve listening".*?"url":"([^"]+)"/.exec(stderr)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ url, child, stderr: () => stderr });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${stderr}`));
    });
  });
}

let box: Sandbox;
let admin: Initialized;
let server: Server;
let base: string;

beforeAll(async () => {
  box = sandbox();
  admin = await init(box, ['--plan', 'pro']);
  server = await startServe(box);
  base = server.url;
});

afterAll(async () => {
  if (server) {
    const exited = new Promise((resolve) => server.child.once('exit', resolve));
    server.child.kill('SIGTERM');
    await exited;
  }
  box?.remove();
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(method: string, path: string, init: { bearer?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.bearer !== undefined) headers.authorization = `Bearer ${init.bearer}`;
  const response = await fetch(`${base}${path}`, { method, headers, ...(init.body !== undefined && { body: init.body }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function tokenFor(id: string, secret: string, scope?: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope !== undefined && { scope }) }).toString();
  const answer = await call('POST', '/oauth/token', { headers: { ...FORM, authorization: basic(id, secret) }, body });
  expect(answer.status, JSON.stringify(answer.json)).toBe(200);
  return answer.json.access_token as string;
}

async function makeKey(permissions: string[]): Promise<{ id: string; secret: string }> {
  const created = await call('POST', '/v1/api-keys', {
    bearer: admin.secret,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'oauth client', permissions }),
  });
  expect(created.status).toBe(201);
  return { id: created.json.id as string, secret: created.json.secret_key as string };
}

function errorType(answer: Answer): unknown {
  return (answer.json.error as { type?: string } | undefined)?.type;
}

/** The server's own current signing secret, read from its database, to forge tokens it would otherwise accept. */
function serverSecret(): { kid: string; secret: Uint8Array } {
  const db = new Database(box.db, { readonly: true });
  try {
    const row = db.prepare('SELECT kid, secret FROM signing_keys WHERE retired_at IS NULL').get() as { kid: string; secret: string };
    return { kid: row.kid, secret: Buffer.from(row.secret, 'base64url') };
  } finally {
    db.close();
  }
}

describe('OAuth 2.0 client credentials over a real server', () => {
  it('takes a client from a 401 through discovery to a token that works on the REST API', async () => {
    const refused = await call('GET', '/v1/keys');
    expect(refused.status).toBe(401);
    const challenge = refused.headers.get('www-authenticate') ?? '';
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${base}/.well-known/oauth-protected-resource`);

    const resource = (await (await fetch(metadataUrl!)).json()) as { resource: string; authorization_servers: string[]; scopes_supported: string[] };
    expect(resource.resource).toBe(base);
    expect(resource.scopes_supported).toEqual(expect.arrayContaining(['keys:read', 'keys:write', 'admin']));
    const issuer = resource.authorization_servers[0]!;
    const metadata = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ issuer, token_endpoint: `${base}/oauth/token`, grant_types_supported: ['client_credentials'] });
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));

    // client_secret_post, as in seed 004's curl example.
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: admin.keyId, client_secret: admin.secret }).toString();
    const response = await fetch(metadata.token_endpoint as string, { method: 'POST', headers: FORM, body: form });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const issued = (await response.json()) as { access_token: string; token_type: string; expires_in: number; scope: string };
    expect(issued).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'admin' });
    expect(decodeJwt(issued.access_token)).toMatchObject({ iss: base, aud: base, sub: admin.keyId });

    const listed = await call('GET', '/v1/keys', { bearer: issued.access_token });
    expect(listed.status).toBe(200);
    expect((listed.json.apiKeys as Array<{ id: string }>).map((k) => k.id)).toContain(admin.keyId);
    const me = await call('GET', '/v1/me', { bearer: issued.access_token });
    expect(me.json).toMatchObject({ key: { id: admin.keyId }, organization: { id: admin.orgId } });
  });

  it('serves the protected resource metadata of /mcp and /v1 at their path-suffixed addresses', async () => {
    for (const path of ['/mcp', '/v1']) {
      const answer = await call('GET', `/.well-known/oauth-protected-resource${path}`);
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({ resource: `${base}${path}`, authorization_servers: [base], bearer_methods_supported: ['header'] });
    }
  });

  it('lets the MCP SDK client discover, get a token and call tools on /mcp with it', async () => {
    const reader = await makeKey(['keys:read']);
    const authProvider = new ClientCredentialsProvider({ clientId: reader.id, clientSecret: reader.secret, expectedIssuer: base });
    const client = new Client({ name: 'oauth-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider }));
    try {
      const token = authProvider.tokens()?.access_token;
      expect(token).toBeDefined();
      expect(decodeJwt(token!)).toMatchObject({ sub: reader.id, scope: 'keys:read' });
      const tools = (await client.listTools()).tools.map((t) => t.name);
      expect(tools).toContain('list_keys');
      expect(tools).not.toContain('generate_key');
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ key: { id: reader.id } });
    } finally {
      await client.close();
    }
  });

  it('charges token calls to the key and answers them with rate-limit headers', async () => {
    await awayFromHourEdge();
    const key = await makeKey(['keys:read']);
    const token = await tokenFor(key.id, key.secret);
    const first = await call('GET', '/v1/keys', { bearer: token });
    expect(first.status).toBe(200);
    for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit-policy', 'ratelimit']) {
      expect(first.headers.get(name), name).not.toBeNull();
    }
    expect(first.headers.get('x-ratelimit-limit')).toBe('1000');
    const remaining = Number(first.headers.get('x-ratelimit-remaining'));
    const byKey = await call('GET', '/v1/keys', { bearer: key.secret });
    expect(Number(byKey.headers.get('x-ratelimit-remaining'))).toBe(remaining - 1);
    const again = await call('GET', '/v1/keys', { bearer: token });
    expect(Number(again.headers.get('x-ratelimit-remaining'))).toBe(remaining - 2);
  });

  it('narrows a token to its scopes: keys:read lists but cannot generate', async () => {
    const token = await tokenFor(admin.keyId, admin.secret, 'keys:read');
    expect((await call('GET', '/v1/keys', { bearer: token })).status).toBe(200);
    const generated = await call('GET', '/v1/keys/new?name=escalation', { bearer: token });
    expect(generated.status).toBe(403);
    expect(errorType(generated)).toBe('INSUFFICIENT_PERMISSIONS');
    const created = await call('POST', '/v1/api-keys', { bearer: token, headers: { 'content-type': 'application/json' }, body: '{"name":"escalation"}' });
    expect(created.status).toBe(403);
  });

  it('stops a token on the very next request once its key is revoked, and while it is disabled', async () => {
    const revoked = await makeKey(['keys:read']);
    const revokedToken = await tokenFor(revoked.id, revoked.secret);
    expect((await call('GET', '/v1/keys', { bearer: revokedToken })).status).toBe(200);
    expect((await call('DELETE', `/v1/keys/${revoked.id}`, { bearer: admin.secret })).status).toBe(200);
    const after = await call('GET', '/v1/keys', { bearer: revokedToken });
    expect(after.status).toBe(401);
    expect(errorType(after)).toBe('REVOKED_API_KEY');

    const disabled = await makeKey(['keys:read']);
    const disabledToken = await tokenFor(disabled.id, disabled.secret);
    const patch = { bearer: admin.secret, headers: { 'content-type': 'application/json' } };
    expect((await call('PATCH', `/v1/keys/${disabled.id}`, { ...patch, body: '{"enabled":false}' })).status).toBe(200);
    expect(errorType(await call('GET', '/v1/keys', { bearer: disabledToken }))).toBe('DISABLED_API_KEY');
    // A revoked key cannot get a new token either.
    const refused = await call('POST', '/oauth/token', { headers: { ...FORM, authorization: basic(revoked.id, revoked.secret) }, body: 'grant_type=client_credentials' });
    expect(refused.status).toBe(401);
    expect(refused.json.error).toBe('invalid_client');
  });

  it('answers 401 INVALID_API_KEY, with the metadata pointer, for a tampered, expired or foreign-audience token', async () => {
    const token = await tokenFor(admin.keyId, admin.secret, 'keys:read');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    const widened = `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), scope: 'admin' })).toString('base64url')}.${signature}`;

    const { kid, secret } = serverSecret();
    expect(decodeProtectedHeader(token).kid).toBe(kid);
    const now = Math.floor(Date.now() / 1000);
    const forge = (aud: string, iat: number, exp: number) =>
      new SignJWT({ scope: 'admin', client_id: admin.keyId })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
        .setIssuer(base)
        .setAudience(aud)
        .setSubject(admin.keyId)
        .setIssuedAt(iat)
        .setExpirationTime(exp)
        .setJti('forged')
        .sign(secret);
    const control = await forge(base, now, now + 60);
    expect((await call('GET', '/v1/me', { bearer: control })).status).toBe(200);
    const expired = await forge(base, now - 7200, now - 3600);
    const foreign = await forge('https://elsewhere.example/mcp', now, now + 60);

    for (const [label, bad] of Object.entries({ flipped, widened, expired, foreign })) {
      const rest = await call('GET', '/v1/me', { bearer: bad });
      expect(rest.status, label).toBe(401);
      expect(errorType(rest), label).toBe('INVALID_API_KEY');
      expect(rest.headers.get('www-authenticate'), label).toContain(`resource_metadata="${base}/.well-known/oauth-protected-resource"`);
      const mcp = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bad}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(mcp.status, label).toBe(401);
      expect(mcp.headers.get('www-authenticate'), label).toContain('resource_metadata=');
    }
    expect(server.stderr()).not.toContain(token);
  });
});

describe('POST /oauth/token errors, in RFC 6749 form and never cached', () => {
  async function tokenError(body: string, headers: Record<string, string> = FORM): Promise<Answer> {
    const answer = await call('POST', '/oauth/token', { headers, body });
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(answer.json).sort()).toEqual(['error', 'error_description']);
    return answer;
  }

  it('invalid_client (401, with a Basic challenge) for a wrong secret, a wrong id or no credentials', async () => {
    const wrongSecret = `${admin.secret.slice(0, -1)}${admin.secret.endsWith('A') ? 'B' : 'A'}`;
    for (const body of [
      `grant_type=client_credentials&client_id=${admin.keyId}&client_secret=${wrongSecret}`,
      `grant_type=client_credentials&client_id=key_nope&client_secret=${admin.secret}`,
      'grant_type=client_credentials',
    ]) {
      const answer = await tokenError(body);
      expect(answer.status).toBe(401);
      expect(answer.json.error).toBe('invalid_client');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(JSON.stringify(answer.json)).not.toContain(admin.secret);
    }
  });

  it('invalid_scope (400) for a scope the key does not hold', async () => {
    const reader = await makeKey(['keys:read']);
    const answer = await tokenError('grant_type=client_credentials&scope=keys%3Awrite', { ...FORM, authorization: basic(reader.id, reader.secret) });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('invalid_scope');
  });

  it('unsupported_grant_type (400) for any grant but client_credentials', async () => {
    const answer = await tokenError('grant_type=password&username=a&password=b', { ...FORM, authorization: basic(admin.keyId, admin.secret) });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toBe('unsupported_grant_type');
  });

  it('invalid_request (400) for a JSON body, a missing grant_type, a repeated parameter or two ways of authenticating', async () => {
    const auth = { ...FORM, authorization: basic(admin.keyId, admin.secret) };
    const cases: Array<[string, Record<string, string>]> = [
      [JSON.stringify({ grant_type: 'client_credentials' }), { 'content-type': 'application/json', authorization: basic(admin.keyId, admin.secret) }],
      ['scope=keys%3Aread', auth],
      ['grant_type=client_credentials&grant_type=client_credentials', auth],
      [`grant_type=client_credentials&client_secret=${admin.secret}`, auth],
    ];
    for (const [body, headers] of cases) {
      const answer = await tokenError(body, headers);
      expect(answer.status, body).toBe(400);
      expect(answer.json.error, body).toBe('invalid_request');
    }
  });

  it('refuses an access token as a client secret', async () => {
    const token = await tokenFor(admin.keyId, admin.secret);
    const answer = await tokenError(`grant_type=client_credentials&client_id=${admin.keyId}&client_secret=${token}`);
    expect(answer.status).toBe(401);
    expect(answer.json.error).toBe('invalid_client');
  });
});
