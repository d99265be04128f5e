import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { query } from './helpers/reliability-db.js';
import { rest, sandboxEachTest, serve } from './helpers/http-serve.js';
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
