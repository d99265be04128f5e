import { beforeEach, describe, expect, it } from 'vitest';
import { ROUTES } from '../src/http/routes/index.js';
import { type AppWorld, appWorld, errorOf, makeKey } from './helpers/http-app.js';
import { AUTH_CASES, casesFor, credentialHeaders, send } from './helpers/http-cases.js';

let w: AppWorld;
let target: string;
beforeEach(async () => {
  w = await appWorld();
  target = (await makeKey(w, { name: 'target' })).id;
});

describe.each(ROUTES.filter((route) => route.auth).map((route) => [`${route.method} ${route.path}`, route] as const))('%s', (_name, route) => {
  it.each(casesFor(route).map((c) => [c.name, c] as const))('refuses %s', async (_case, c) => {
    const arranged = await c.arrange(w, target);
    const answer = await send(w, route, arranged.id ?? target, credentialHeaders(arranged));
    expect(answer.status).toBe(c.status);
    expect(errorOf(answer)).toMatchObject({ code: c.status, type: c.type });
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    if (c.status === 401) expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="dispersl"/);
    else expect(answer.headers.get('www-authenticate')).toBeNull();
    // Refusals of the credential come before the charge; later ones are charged and say so (routes that charge nobody, never).
    expect(answer.headers.has('x-ratelimit-remaining')).toBe(!c.free && route.charged !== false);
    if (arranged.token !== undefined && c.free && c.type !== 'INVALID_API_KEY' && arranged.scheme !== 'basic') {
      const lookup = await w.store.findByHash((await import('../src/core/tokens.js')).hashToken(arranged.token));
      expect(lookup?.usage.hour_count ?? 0).toBe(0);
    }
  });
});

describe('routes without a key', () => {
  it.each(ROUTES.filter((route) => !route.auth && route.enabled === undefined).map((route) => [route.path, route] as const))('%s answers 200 and charges nothing', async (_p, route) => {
    const answer = await send(w, route, target, {});
    expect(answer.status).toBe(200);
    expect(answer.headers.has('x-ratelimit-limit')).toBe(false);
  });
});

const MCP_ENDPOINTS = ['/mcp', '/mcp/readonly', '/ot/:key', '/ot/:key/readonly'];
const MCP_CASES = AUTH_CASES.filter((c) => c.status !== 404 && c.type !== 'INSUFFICIENT_PERMISSIONS');

describe.each(MCP_ENDPOINTS)('POST %s', (endpoint) => {
  const inPath = endpoint.includes(':key');
  const cases = MCP_CASES.filter((c) => !inPath || (c.name !== 'no credential' && c.name !== 'a non-Bearer Authorization header'));
  it.each(cases.map((c) => [c.name, c] as const))('refuses %s, initialize included', async (_case, c) => {
    const arranged = await c.arrange(w, target);
    const headers = credentialHeaders(inPath ? { ...arranged, scheme: 'none' } : arranged);
    const path = endpoint.replace(':key', encodeURIComponent(arranged.token ?? ''));
    const answer = await w.ask('POST', path, {
      headers,
      body: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
    });
    expect(answer.status).toBe(c.status);
    expect(answer.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32001, data: { code: c.status, type: c.type } } });
    if (c.status === 401) expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="dispersl"/);
    expect(answer.text).not.toContain(arranged.token ?? 'no token');
  });
});
