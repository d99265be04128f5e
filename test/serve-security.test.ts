import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { query } from './helpers/reliability-db.js';
import { errorType, raw, rest, sandboxEachTest, serve } from './helpers/http-serve.js';
import { init, runCli } from './helpers/sandbox.js';

/** `dispersl-mcp serve` as an operator runs it: what it keeps secret, and what it warns about. */

const box = sandboxEachTest();

async function accessToken(url: string, id: string, secret: string): Promise<string> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret });
  const answer = await fetch(`${url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  expect(answer.status).toBe(200);
  return ((await answer.json()) as { access_token: string }).access_token;
}

describe('DISPERSL_SECRET_KEY', () => {
  it('keeps the OAuth signing secret encrypted in the database, and refuses to start with another key, or none', async () => {
    const admin = await init(box());
    const key = randomBytes(32).toString('base64');
    // One issuer for both runs, whatever port each binds: the token stays valid across the restart.
    const env = { DISPERSL_SECRET_KEY: key, DISPERSL_PUBLIC_URL: 'https://keys.example.com' };
    const server = await serve(box(), { env });
    const token = await accessToken(server.url, admin.keyId, admin.secret);
    expect((await rest(server.url, 'GET', '/v1/me', { key: token })).status).toBe(200);
    expect(server.logs().find((l) => l.msg === 'dispersl-mcp serve listening')).toMatchObject({ signing_secrets: 'encrypted' });
    expect(server.stderr()).not.toContain(key);
    await server.stop();
    const stored = query<{ secret: string }>(box().db, 'SELECT secret FROM signing_keys');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.secret).toMatch(/^aes256gcm\./);

    for (const [env, pattern] of [
      [{ DISPERSL_SECRET_KEY: randomBytes(32).toString('base64') }, /^dispersl-mcp: DISPERSL_SECRET_KEY does not decrypt the OAuth signing secrets/],
      [{}, /^dispersl-mcp: the OAuth signing secrets in the database are encrypted: set DISPERSL_SECRET_KEY/],
    ] as const) {
      const refused = await runCli(['serve', '--port', '0'], box().env(env));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(pattern);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    }
    const again = await serve(box(), { env });
    expect((await rest(again.url, 'GET', '/v1/me', { key: token })).status).toBe(200);
  });

  it('refuses a value that is not 32 bytes of base64, without echoing it', async () => {
    for (const value of ['short', randomBytes(16).toString('base64'), `${randomBytes(32).toString('base64')}!`]) {
      const run = await runCli(['serve', '--port', '0'], box().env({ DISPERSL_SECRET_KEY: value }));
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/DISPERSL_SECRET_KEY must be 32 bytes in base64/);
      expect(run.stderr).not.toContain(value);
    }
  });
});

describe("a key's restrictions over a real server", () => {
  it('are inherited by the keys it creates, and a request for more answers 400 naming the field', async () => {
    const admin = await init(box(), ['--plan', 'pro']);
    const server = await serve(box());
    const restricted = await rest(server.url, 'POST', '/v1/api-keys', {
      key: admin.secret,
      body: { name: 'limited', permissions: ['admin'], expires_in_seconds: 600, allowed_ips: ['127.0.0.1'], rate_limit: { max: 50, window_ms: 60_000 } },
    });
    const secret = (restricted.json as { secret_key: string; expires_at: string }).secret_key;
    const expiresAt = (restricted.json as { expires_at: string }).expires_at;
    const child = await rest(server.url, 'POST', '/v1/api-keys', { key: secret, body: { name: 'child' } });
    expect(child.status).toBe(201);
    expect(child.json).toMatchObject({ expires_at: expiresAt, allowed_ips: ['127.0.0.1'], rate_limit: { max: 50, window_ms: 60_000 } });
    const viaNew = await rest(server.url, 'GET', '/v1/keys/new', { key: secret });
    expect((viaNew.json as { key: unknown }).key).toMatchObject({ expires_at: expiresAt, allowed_ips: ['127.0.0.1'] });
    for (const [body, field] of [
      [{ name: 'x', allowed_ips: [] }, 'allowed_ips'],
      [{ name: 'x', expires_in_seconds: 86_400 }, 'expires_in_seconds'],
      [{ name: 'x', rate_limit: { max: 1_000, window_ms: 60_000 } }, 'rate_limit'],
    ] as const) {
      const refused = await rest(server.url, 'POST', '/v1/api-keys', { key: secret, body });
      expect(refused.status).toBe(400);
      expect((refused.json as { error: { type: string; details: { issues: Array<{ path: string }> } } }).error).toMatchObject({
        type: 'INVALID_REQUEST',
        details: { issues: [{ path: field }] },
      });
    }
  });
});

describe('binding and connections', () => {
  const warnings = (stderr: string) => stderr.split('\n').filter((line) => line.includes('"level":"warn"'));

  it('prints one warning line when bound beyond loopback, and none on loopback', async () => {
    await init(box());
    const wide = await serve(box(), { host: '0.0.0.0' });
    const lines = warnings(wide.stderr());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/bound to 0\.0\.0\.0, reachable from other machines/);
    await wide.stop();
    const local = await serve(box());
    expect(warnings(local.stderr())).toEqual([]);
  });

  it('closes connections an address opens beyond --max-connections, and accepts again once one closes', async () => {
    await init(box());
    const server = await serve(box(), { args: ['--max-connections', '3'] });
    const { port } = new URL(server.url);
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      });
    const closedByServer = (socket: Socket): Promise<boolean> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 5_000);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    const idle = [await open(), await open(), await open()];
    const extra = await open();
    expect(await closedByServer(extra)).toBe(true);
    // A request on a new connection is cut before it is read (node:http, which does not retry a reset connection as fetch does).
    await expect(raw(server.url, 'GET', '/healthz', {})).rejects.toThrow(/ECONNRESET|socket hang up/);
    idle.pop()!.destroy();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = await raw(server.url, 'GET', '/healthz', {}).then(
        (answer) => answer.status,
        () => new Promise<number>((resolve) => setTimeout(() => resolve(0), 50)),
      );
    }
    expect(status).toBe(200);
    expect(server.logs().filter((l) => l.msg === 'connection refused: too many open connections from one address')).toEqual([
      expect.objectContaining({ level: 'warn', address: '127.0.0.1', limit: 3 }),
    ]);
    for (const socket of idle) socket.destroy();
  });

  it('refuses a --max-connections that is not a whole number from 1', async () => {
    for (const value of ['0', '-1', 'many', '1.5']) {
      const run = await runCli(['serve', '--port', '0', `--max-connections=${value}`], box().env());
      expect(run.code, value).toBe(2);
      expect(run.stderr).toMatch(/--max-connections must be a whole number/);
    }
  });
});

describe('DISPERSL_TRUSTED_PROXIES', () => {
  const signIn = (url: string, key: string, client: string) =>
    fetch(`${url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: url, 'x-forwarded-for': client, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key }).toString(),
    });

  it('takes the client address a trusted proxy forwards, for IP allowlists and the sign-in limit', async () => {
    const admin = await init(box());
    const server = await serve(box(), { env: { DISPERSL_TRUSTED_PROXIES: '127.0.0.1, ::1' } });
    const made = await rest(server.url, 'POST', '/v1/api-keys', { key: admin.secret, body: { name: 'office only', allowed_ips: ['203.0.113.5'] } });
    const secret = (made.json as { secret_key: string }).secret_key;
    const asClient = (forwarded?: string) => rest(server.url, 'GET', '/v1/me', { key: secret, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } });
    expect((await asClient('203.0.113.5')).status).toBe(200);
    // What the client wrote itself, left of the address our proxy saw, is not believed.
    expect(errorType(await asClient('203.0.113.5, 198.51.100.1'))).toBe('IP_NOT_ALLOWED');
    expect(errorType(await asClient())).toBe('IP_NOT_ALLOWED');

    for (let i = 0; i < 10; i++) expect((await signIn(server.url, 'pk_live_wrong', '198.51.100.1')).status).toBe(400);
    expect((await signIn(server.url, admin.secret, '198.51.100.1')).status).toBe(429);
    expect((await signIn(server.url, admin.secret, '198.51.100.2')).status).toBe(303);
  });

  it('believes no forwarded address without it', async () => {
    const admin = await init(box());
    const server = await serve(box());
    const made = await rest(server.url, 'POST', '/v1/api-keys', { key: admin.secret, body: { name: 'office only', allowed_ips: ['203.0.113.5'] } });
    const secret = (made.json as { secret_key: string }).secret_key;
    expect(errorType(await rest(server.url, 'GET', '/v1/me', { key: secret, headers: { 'x-forwarded-for': '203.0.113.5' } }))).toBe('IP_NOT_ALLOWED');
  });

  it('refuses a value that is not addresses or ranges, in one line', async () => {
    const run = await runCli(['serve', '--port', '0'], box().env({ DISPERSL_TRUSTED_PROXIES: '10.0.0.0/8, proxy.internal' }));
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain("DISPERSL_TRUSTED_PROXIES must list IP addresses or CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1), got 'proxy.internal'");
  });
});
