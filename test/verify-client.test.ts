import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/core/log.js';
import { type RunningServer, startServer } from '../src/http/server.js';
import { type Verifier, VerifierError, createVerifier, expressGuard, guardRequest, honoGuard } from '../src/verify/index.js';
import { type AppWorld, appWorld, makeKey } from './helpers/http-app.js';

/** dispersl-mcp/verify against a real server on loopback: the client, and each guard answering the contract's envelope. */

let w: AppWorld;
let server: RunningServer;
const closing: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closing.splice(0)) await close();
  await server?.close();
  await w?.store.close();
});

async function started(): Promise<{ url: string; verifier: Verifier; user: { id: string; secret: string } }> {
  w = await appWorld();
  server = await startServer({ app: w.app, host: '127.0.0.1', port: 0, logger: createLogger('silent') });
  const verifier = createVerifier({ baseUrl: server.url, key: w.tenant.adminSecret });
  closing.push(() => verifier.close());
  return { url: server.url, verifier, user: await makeKey(w, { permissions: ['agent:chat'] }) };
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s: Server = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closing.push(() => new Promise((r) => s.close(r)));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('createVerifier', () => {
  it('answers typed verifications over kept-alive connections, and releases leases', async () => {
    const { verifier, user } = await started();
    const result = await verifier.verify(user.secret, { permissions: ['agent:chat'], hold: true });
    expect(result).toMatchObject({ valid: true, type: 'VALID', key: { id: user.id }, ratelimit: { remaining: 99 } });
    await verifier.release(result.lease!.id);
    await verifier.release(result.lease!.id);
    expect((await verifier.verify(user.secret, { permissions: ['tasks:write'] })).type).toBe('INSUFFICIENT_PERMISSIONS');
    expect((await verifier.verify('pk_live_nope')).type).toBe('INVALID_API_KEY');
  });

  it('throws a VerifierError for a refused verifier and for a server that does not answer in time', async () => {
    const { url, user } = await started();
    const bad = createVerifier({ baseUrl: `${url}/v1`, key: 'pk_live_notakey' });
    closing.push(() => bad.close());
    await expect(bad.verify(user.secret)).rejects.toMatchObject({ name: 'VerifierError', status: 401 });
    const silent = await listen(() => {});
    const slow = createVerifier({ baseUrl: silent, key: w.tenant.adminSecret, timeoutMs: 200 });
    closing.push(() => slow.close());
    await expect(slow.verify(user.secret)).rejects.toBeInstanceOf(VerifierError);
  });
});

describe('the guards', () => {
  it("Node's http: 200 with the rate-limit headers, 401 without a key, 403 without the permission", async () => {
    const { verifier, user } = await started();
    const guard = guardRequest(verifier, { permissions: ['agent:chat'] });
    const api = await listen(async (req, res) => {
      const outcome = await guard(req, res);
      if (outcome.ok) res.end(JSON.stringify({ key: outcome.result.key?.id }));
    });
    const ok = await fetch(api, { headers: { authorization: `Bearer ${user.secret}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ key: user.id });
    expect(ok.headers.get('x-ratelimit-remaining')).toBe('99');
    const none = await fetch(api);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await none.json()).toMatchObject({ error: { code: 401, type: 'MISSING_API_KEY' } });
    const reader = await makeKey(w, { permissions: ['keys:read'] });
    const forbidden = await fetch(api, { headers: { 'x-api-key': reader.secret } });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).not.toContain(reader.secret);
  });

  it('Express-style: sets req.dispersl and calls next, or answers 429 with Retry-After', async () => {
    const { verifier, user } = await started();
    const middleware = expressGuard(verifier, { cost: 60 });
    const api = await listen((req, res) =>
      middleware(req, res, () => res.end(JSON.stringify({ remaining: (req as typeof req & { dispersl?: { ratelimit: { remaining: number } } }).dispersl?.ratelimit.remaining }))),
    );
    const first = await fetch(api, { headers: { authorization: `Bearer ${user.secret}` } });
    expect(await first.json()).toEqual({ remaining: 40 });
    const second = await fetch(api, { headers: { authorization: `Bearer ${user.secret}` } });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await second.json()).toMatchObject({ error: { type: 'RATE_LIMIT_EXCEEDED', details: { retry_after: expect.any(Number) } } });
  });

  it('Hono: holds a lease while the handler runs and releases it after', async () => {
    const { verifier, user } = await started();
    const app = new Hono();
    app.use('/v1/*', honoGuard(verifier, { hold: true }));
    let during: unknown;
    app.post('/v1/agent/chat', async (c) => {
      during = w.store.db.prepare('SELECT count(*) FROM leases WHERE released_at IS NULL').pluck().get();
      return c.json({ reply: 'hi' });
    });
    const answer = await app.request('/v1/agent/chat', { method: 'POST', headers: { authorization: `Bearer ${user.secret}` } });
    expect(answer.status).toBe(200);
    expect(during).toBe(1);
    expect(w.store.db.prepare('SELECT count(*) FROM leases WHERE released_at IS NULL').pluck().get()).toBe(0);
    expect((await app.request('/v1/agent/chat', { method: 'POST', headers: { authorization: 'Bearer pk_live_wrong' } })).status).toBe(401);
  });
});
