import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { Gate } from '../src/core/auth.js';
import { createLogger } from '../src/core/log.js';
import { createApp } from '../src/http/app.js';
import { McpDispatcher } from '../src/mcp/protocol.js';
import { createToolRunner } from '../src/mcp/run-tool.js';
import { AccessTokens } from '../src/oauth/access-tokens.js';
import { worldsClosedAfterEach } from '../src/testing/fixtures.js';

/** The HTTP app in process with OAuth switched on and a clock the test moves: token expiry and signing-key rotation without waiting. */

const BASE = 'https://keys.example.com';
const world = worldsClosedAfterEach();

async function oauthApp() {
  const w = await world({ plan: 'pro' });
  const lines: string[] = [];
  const logger = createLogger('debug', (line) => void lines.push(line));
  const tokens = new AccessTokens(w.store, { issuer: BASE, clock: w.clock.read });
  const gate = new Gate(w.store, w.clock.read, { accessTokens: tokens });
  const dispatcher = new McpDispatcher({ version: '0.0.0-test', logger, runner: async () => createToolRunner({ logger }) });
  const app = createApp({
    gate,
    service: w.service,
    dispatcher,
    logger,
    version: '0.0.0-test',
    clock: w.clock.read,
    oauth: { tokens, authenticate: (c) => gate.peek(c) },
  });
  const request = (path: string, init: RequestInit = {}) => app.request(`${BASE}${path}`, init);
  const issue = async (scope?: string): Promise<string> => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: w.tenant.adminId, client_secret: w.tenant.adminSecret, ...(scope && { scope }) });
    const answer = await request('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    expect(answer.status).toBe(200);
    return ((await answer.json()) as { access_token: string }).access_token;
  };
  const get = (path: string, bearer: string) => request(path, { headers: { authorization: `Bearer ${bearer}` } });
  return { w, tokens, lines, request, issue, get };
}

describe('OAuth in the HTTP app, on an injected clock', () => {
  it('answers an expired token with a 401 INVALID_API_KEY envelope that points at the metadata', async () => {
    const a = await oauthApp();
    const token = await a.issue();
    expect((await a.get('/v1/keys', token)).status).toBe(200);
    a.w.clock.advance(3_599_999);
    expect((await a.get('/v1/keys', token)).status).toBe(200);
    a.w.clock.advance(1);
    const expired = await a.get('/v1/keys', token);
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: { type: string; code: number } }).error).toMatchObject({ type: 'INVALID_API_KEY', code: 401 });
    expect(expired.headers.get('www-authenticate')).toBe(
      `Bearer realm="dispersl", error="invalid_token", error_description="The access token has expired; request a new one from /oauth/token", resource_metadata="${BASE}/.well-known/oauth-protected-resource"`,
    );
    // A fresh token works again.
    expect((await a.get('/v1/keys', await a.issue())).status).toBe(200);
  });

  it('keeps serving tokens signed before a signing-key rotation until they expire', async () => {
    const a = await oauthApp();
    const before = await a.issue('keys:read');
    a.w.clock.advance(30 * 60_000);
    a.tokens.signingKeys.rotate();
    const after = await a.issue('keys:read');
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    expect((await a.get('/v1/keys', before)).status).toBe(200);
    a.w.clock.advance(30 * 60_000);
    expect((await a.get('/v1/keys', before)).status).toBe(401);
    expect((await a.get('/v1/keys', after)).status).toBe(200);
  });

  it('writes neither the key nor the access token to its logs', async () => {
    const a = await oauthApp();
    const token = await a.issue();
    await a.get('/v1/me', token);
    await a.get('/v1/me', `${token}x`);
    const logs = a.lines.join('\n');
    expect(logs).toContain('/oauth/token');
    expect(logs).not.toContain(a.w.tenant.adminSecret);
    expect(logs).not.toContain(token.split('.')[2]);
  });

  it('refuses the authorization endpoint: only client credentials are granted', async () => {
    const a = await oauthApp();
    const answer = await a.request('/oauth/authorize?response_type=code&client_id=x');
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({ error: 'unsupported_response_type' });
  });

  it('serves discovery documents built on the configured public URL, readable from any origin', async () => {
    const a = await oauthApp();
    const resource = await a.request('/.well-known/oauth-protected-resource');
    expect(resource.headers.get('access-control-allow-origin')).toBe('*');
    expect(await resource.json()).toMatchObject({ resource: BASE, authorization_servers: [BASE] });
    const server = await a.request('/.well-known/oauth-authorization-server');
    expect(await server.json()).toMatchObject({ issuer: BASE, token_endpoint: `${BASE}/oauth/token`, response_types_supported: [] });
  });
});
