import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI, type StdioServer, baseEnv, call, stdio, tempHome } from './helpers/remote.js';

/**
 * Remote mode when the server is not a healthy dispersl-mcp: down, too slow, or answering garbage.
 * Every case must end in a clear tool error naming the URL, within the timeout, with the stdio
 * server still answering afterwards. The stand-in servers listen on 127.0.0.1 inside the test.
 */

const home = tempHome('remote-failures');
const KEY = 'pk_live_' + 'B'.repeat(30);
/** For the cases that must time out. The others give the server all the time a busy machine needs. */
const TIMEOUT_MS = 400;
const PATIENT_MS = 15_000;
const servers: Server[] = [];
const clients: StdioServer[] = [];

async function standIn(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => sockets.add(s).size && s.once('close', () => sockets.delete(s)));
  // A stalled response would otherwise hold close() open.
  server.once('close', () => sockets.forEach((s) => s.destroy()));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}

/** A remote-mode stdio server on `base`, giving up after `timeoutMs` (only the timeout cases wait for that). */
async function remoteAt(base: string, timeoutMs = PATIENT_MS): Promise<StdioServer> {
  const s = await stdio(
    baseEnv(home.dir, { DISPERSL_BASE_URL: base, DISPERSL_API_KEY: KEY, DISPERSL_TIMEOUT_MS: String(timeoutMs), DISPERSL_DB: join(home.dir, 'never.db') }),
  );
  clients.push(s);
  return s;
}

/** The tool error every transport failure must be: INTERNAL_ERROR naming the base URL, and why. */
async function expectTransportError(s: StdioServer, base: string, reason: string): Promise<string> {
  const outcome = await call(s, 'whoami');
  expect(outcome.ok).toBe(false);
  const error = outcome.value.error as { code: number; type: string; message: string; details: Record<string, unknown> };
  expect(error).toMatchObject({ code: 500, type: 'INTERNAL_ERROR', details: { base_url: base, reason, request: 'GET /v1/me' } });
  expect(error.message).toContain(base);
  expect(outcome.text).not.toContain(KEY);
  // Still serving: the next request is answered.
  expect(await s.client.ping()).toEqual({});
  return error.message;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

afterAll(() => home.remove());

describe('remote mode when the server misbehaves', () => {
  it('says the connection was refused when nothing listens', async () => {
    const base = await standIn(() => {});
    const closing = servers.pop()!;
    await new Promise((resolve) => closing.close(resolve));
    const s = await remoteAt(base);
    // tools/list still works: every tool is shown when the server cannot say which.
    expect((await s.client.listTools()).tools).toHaveLength(9);
    expect(await expectTransportError(s, base, 'connection_refused')).toMatch(/refused/);
  });

  it('gives up after DISPERSL_TIMEOUT_MS when the server never answers', async () => {
    let requests = 0;
    const base = await standIn(() => {
      requests++; // and never answer
    });
    const s = await remoteAt(base, TIMEOUT_MS);
    expect(await expectTransportError(s, base, 'timeout')).toContain(`${TIMEOUT_MS} ms`);
    expect(requests).toBe(1);
  });

  it('gives up after the timeout when the body stalls half-way', async () => {
    const base = await standIn((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"organization":');
    });
    await expectTransportError(await remoteAt(base, TIMEOUT_MS), base, 'timeout');
  });

  it('says the answer is not JSON when a web page answers', async () => {
    const base = await standIn((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Welcome</title>'));
    expect(await expectTransportError(await remoteAt(base), base, 'not_json')).toMatch(/not JSON/);
  });

  it('says so when an error status comes without our envelope', async () => {
    const base = await standIn((_req, res) => res.writeHead(502, { 'content-type': 'application/json' }).end('{"message":"Bad gateway"}'));
    await expectTransportError(await remoteAt(base), base, 'unexpected_answer');
  });

  it('says so when JSON arrives in a shape the API never returns', async () => {
    const base = await standIn((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
    await expectTransportError(await remoteAt(base), base, 'unexpected_answer');
  });

  it('names the failure when the server drops the connection', async () => {
    const base = await standIn((req) => req.socket.destroy());
    await expectTransportError(await remoteAt(base), base, 'connection_failed');
  });

  it('does not follow a redirect, so the key reaches no other server', async () => {
    let elsewhere = 0;
    const other = await standIn((_req, res) => {
      elsewhere++;
      res.end('{}');
    });
    const base = await standIn((_req, res) => res.writeHead(302, { location: `${other}/me` }).end());
    await expectTransportError(await remoteAt(base), base, 'redirect');
    expect(elsewhere).toBe(0);
  });

  it('opens no database in any of these cases', () => {
    expect(existsSync(join(home.dir, 'never.db'))).toBe(false);
  });
});

describe('remote mode configuration', () => {
  it('refuses a base URL that is not http(s) with one line and exit code 2', () => {
    const out = spawnSync(process.execPath, [CLI], { env: baseEnv(home.dir, { DISPERSL_BASE_URL: 'ftp://127.0.0.1/v1' }), input: '', encoding: 'utf8', timeout: 10_000 });
    expect(out.status).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/DISPERSL_BASE_URL must start with http:\/\/ or https:\/\//);
  });

  it('refuses an MCP URL with the key in it, without printing the key', () => {
    const out = spawnSync(process.execPath, [CLI], { env: baseEnv(home.dir, { DISPERSL_BASE_URL: `http://127.0.0.1:8787/ot/${KEY}` }), input: '', encoding: 'utf8', timeout: 10_000 });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/DISPERSL_API_KEY/);
    expect(out.stderr).not.toContain(KEY);
  });

  it('refuses a timeout that is not a number of milliseconds', () => {
    const out = spawnSync(process.execPath, [CLI], { env: baseEnv(home.dir, { DISPERSL_BASE_URL: 'http://127.0.0.1:1/v1', DISPERSL_TIMEOUT_MS: 'soon' }), input: '', encoding: 'utf8', timeout: 10_000 });
    expect(out.status).toBe(2);
    expect(out.stderr).toMatch(/DISPERSL_TIMEOUT_MS/);
  });

  it('warns once on stderr for plain http to another machine, naming no key', async () => {
    // 192.0.2.1 is reserved for documentation: nothing is sent there, the warning comes at start-up.
    const s = await stdio(baseEnv(home.dir, { DISPERSL_BASE_URL: 'http://192.0.2.1:8787/v1', DISPERSL_API_KEY: KEY, DISPERSL_DB: join(home.dir, 'never.db') }));
    clients.push(s);
    const deadline = Date.now() + 10_000;
    while (!s.stderr().includes('unencrypted') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const warnings = s.stderr().split('\n').filter((line) => line.includes('"level":"warn"'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('http://192.0.2.1:8787/v1');
    expect(s.stderr()).not.toContain(KEY);
  });

  it('does not warn for plain http on loopback', async () => {
    const base = await standIn((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    const s = await remoteAt(base);
    await call(s, 'whoami');
    expect(s.stderr()).not.toContain('unencrypted');
  });
});
