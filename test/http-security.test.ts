import { describe, expect, it } from 'vitest';
import { type AppWorld, appWorld, errorOf } from './helpers/http-app.js';

/** What the HTTP app writes down or sends back about secrets, and the headers that keep responses out of caches and sniffers. */

function logText(w: AppWorld): string {
  return JSON.stringify(w.logs);
}

describe('secrets in request paths', () => {
  it('never writes a key from the path to the access log or a 404 body, however the path is spelled', async () => {
    const w = appWorld({ plan: 'pro' });
    const key = w.tenant.adminSecret;
    const paths = [`//ot/${key}`, `/OT/${key}`, `/ot//${key}`, `/v1/keys/${key}`, `/v1/keys/${key}/rotate/x`, `/V1/KEYS/${key.replace('pk_live_', 'PK_LIVE_')}`];
    for (const path of paths) {
      const answer = await w.ask('POST', path, { body: { jsonrpc: '2.0', id: 1, method: 'ping' } });
      expect(answer.status, path).toBe(404);
      expect(errorOf(answer).message, path).toContain('[redacted]');
      expect(answer.text, path).not.toContain(key.slice(8));
    }
    const lines = w.logs.filter((l) => l.msg === 'request');
    expect(lines).toHaveLength(paths.length);
    for (const line of lines) expect(line.path).toMatch(/\[redacted\]/);
    expect(logText(w)).not.toContain(key.slice(8));
  });

  it('never logs an access token pasted into a path', async () => {
    const w = appWorld();
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJrZXlfYWJjIn0.c2lnbmF0dXJlc2lnbmF0dXJl';
    const answer = await w.ask('GET', `/v2/${jwt}`);
    expect(answer.status).toBe(404);
    expect(answer.text).not.toContain(jwt.split('.')[1]);
    expect(logText(w)).not.toContain(jwt.split('.')[1]);
  });

  it('does not take a key sent as X-Request-ID for the request id', async () => {
    const w = appWorld();
    const key = w.tenant.adminSecret;
    const answer = await w.ask('GET', '/healthz', { headers: { 'x-request-id': key } });
    expect(answer.headers.get('x-request-id')).not.toContain(key);
    expect(logText(w)).not.toContain(key);
  });
});

describe('failures of our own', () => {
  it('logs the cause of an internal error (the store’s message and code), never a token, and answers nothing internal', async () => {
    const w = appWorld();
    const key = w.tenant.adminSecret;
    w.store.saveUsage = () => {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    };
    const rest = await w.ask('GET', '/v1/keys', { key });
    const mcp = await w.rpc('/mcp', key, 'tools/call', { name: 'whoami', arguments: {} });
    const ot = await w.rpc(`/ot/${key}`, undefined, 'tools/call', { name: 'whoami', arguments: {} });
    // A batch is only peeked at first: its tool call reaches the gate inside the tool, and fails there.
    const batch = await w.ask('POST', '/mcp', { key, body: [{ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } }] });
    for (const answer of [rest, mcp, ot]) {
      expect(answer.status).toBe(500);
      expect(answer.text).not.toMatch(/disk|sqlite/i);
    }
    expect(batch.text).toContain('INTERNAL_ERROR');
    expect(batch.text).not.toMatch(/disk|sqlite/i);
    const failures = w.logs.filter((l) => l.level === 'error');
    expect(failures.map((l) => l.msg)).toEqual(['request failed', 'request failed', 'request failed', 'tool call failed']);
    for (const line of failures) expect(line).toMatchObject({ error: 'database or disk is full', code: 'SQLITE_FULL' });
    expect(logText(w)).not.toContain(key);
  });
});
