import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { PG_SCHEMA_VERSION } from '../src/store/postgres.js';
import { type PgCluster, startCluster } from '../src/testing/postgres.js';
import { type HttpAnswer, type Served, errorType, httpClient, rest, serve, stopAll, tool } from './helpers/http-serve.js';
import { Sessions } from './helpers/mcp-client.js';
import { type Sandbox, awayFromHourEdge, init, runCli, sandbox } from './helpers/sandbox.js';

/**
 * Several real processes (`serve` and the stdio server, built from dist) on one real PostgreSQL
 * database: one set of limits and one view of every key, whichever process a request reaches.
 */

const cluster: PgCluster | undefined = await startCluster('serve on PostgreSQL');
const onPostgres = cluster ? describe : describe.skip;

/** A sandbox whose processes use the test's PostgreSQL database instead of a SQLite file. */
function onDatabase(box: Sandbox, url: string): Sandbox {
  return { ...box, db: url, env: (extra = {}) => box.env({ DISPERSL_DB: url, ...extra }) };
}

type Answer = { source: string; status: number; type?: string | undefined };

function fromRest(source: string, answer: HttpAnswer): Answer {
  return { source, status: answer.status, type: answer.status >= 400 ? errorType(answer) : undefined };
}

const OPEN = new URL('../dist/store/open.js', import.meta.url).href;

/** Which database drivers a new process has loaded once it opened `location` (both are CommonJS, so in require.cache). */
async function driversLoaded(location: string): Promise<string[]> {
  const script = `
    import { createRequire } from 'node:module';
    const { openStore } = await import(${JSON.stringify(OPEN)});
    await (await openStore(${JSON.stringify(location)})).close();
    const cached = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify(['better-sqlite3', 'pg'].filter((name) => cached.some((path) => path.includes('/node_modules/' + name + '/')))));`;
  const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as string[];
}

describe('loading a database driver', () => {
  it('loads no PostgreSQL driver for a SQLite file', async () => {
    expect(await driversLoaded(':memory:')).toEqual(['better-sqlite3']);
  });
});

onPostgres('several processes on one PostgreSQL database', () => {
  const pg = cluster!;
  const sessions = new Sessions();
  const clients: Client[] = [];
  let raw: Sandbox;
  let box: Sandbox;
  let url: string;

  beforeEach(async () => {
    url = await pg.createDatabase();
    raw = sandbox();
    box = onDatabase(raw, url);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    await sessions.closeAll();
    await stopAll();
    raw.remove();
    await pg.dropDatabase(url);
  });
  afterAll(() => pg.stop());

  const serveAll = (n: number): Promise<Served[]> => Promise.all(Array.from({ length: n }, () => serve(box)));

  it('admits exactly 100 requests of one free key charged at once from REST and MCP on three serve processes and a stdio process', async () => {
    await awayFromHourEdge(60_000);
    const admin = await init(box);
    const servers = await serveAll(3);
    const stdio = await sessions.connect(box, { key: admin.secret });
    const answers: Answer[] = [];

    /** Sends until the quota answers RATE_LIMIT_EXCEEDED; a concurrency refusal (not charged) is simply retried. */
    const worker = async (source: string, send: () => Promise<Answer>) => {
      for (let i = 0; i < 300; i++) {
        const answer = await send();
        answers.push(answer);
        if (answer.type === 'RATE_LIMIT_EXCEEDED' || (answer.status >= 500 && answer.status !== 429)) return;
        if (answer.type === 'CONCURRENCY_LIMIT_EXCEEDED') await new Promise((resolve) => setTimeout(resolve, 5));
      }
      throw new Error(`${source} never reached the quota`);
    };
    const mcpAnswer = async (source: string, client: Client): Promise<Answer> => {
      const outcome = await tool(client, 'whoami');
      return outcome.ok ? { source, status: 200 } : { source, status: Number(outcome.data.code), type: String(outcome.data.type) };
    };
    const workers: Array<Promise<void>> = [];
    for (const [i, server] of servers.entries()) {
      const client = await httpClient(`${server.url}/mcp`, admin.secret);
      clients.push(client);
      workers.push(worker(`rest-${i}`, async () => fromRest(`rest-${i}`, await rest(server.url, 'GET', '/v1/me', { key: admin.secret }))));
      workers.push(worker(`mcp-${i}`, () => mcpAnswer(`mcp-${i}`, client)));
    }
    workers.push(
      worker('stdio', async () => {
        const outcome = await stdio.call('whoami');
        return outcome.ok ? { source: 'stdio', status: 200 } : { source: 'stdio', status: outcome.error.code, type: outcome.error.type };
      }),
    );
    await Promise.all(workers);

    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(100);
    const refused = answers.filter((a) => a.status !== 200);
    // Every other answer is a 429 envelope: the quota, or (not charged, retried) a process's concurrency limit.
    expect(refused.filter((a) => a.status !== 429 || (a.type !== 'RATE_LIMIT_EXCEEDED' && a.type !== 'CONCURRENCY_LIMIT_EXCEEDED'))).toEqual([]);
    // Every source was charged from the same counter: each ended on the quota, none on anything else.
    expect(new Set(answers.filter((a) => a.type === 'RATE_LIMIT_EXCEEDED').map((a) => a.source)).size).toBe(7);
    // And the quota holds for every process afterwards.
    for (const server of servers) expect(errorType(await rest(server.url, 'GET', '/v1/keys', { key: admin.secret }))).toBe('RATE_LIMIT_EXCEEDED');
    expect(await stdio.fail('list_keys')).toMatchObject({ code: 429, type: 'RATE_LIMIT_EXCEEDED' });
  });

  it('shows revocation, disabling and rotation to every process on the very next request', async () => {
    const admin = await init(box, ['--plan', 'enterprise', '--requests-per-hour', '100000', '--max-concurrency', '50']);
    const [a, b] = await serveAll(2);
    const created = await rest(a!.url, 'POST', '/v1/api-keys', { key: admin.secret, body: { name: 'worker', permissions: ['keys:read'] } });
    expect(created.status).toBe(201);
    const { id, secret_key: secret } = created.json as { id: string; secret_key: string };
    const stdio = await sessions.connect(box, { key: secret });
    const me = async (server: Served, key: string) => {
      const answer = await rest(server.url, 'GET', '/v1/me', { key });
      return answer.status === 200 ? 'ok' : errorType(answer);
    };
    expect([await me(b!, secret), (await stdio.call('whoami')).ok]).toEqual(['ok', true]);

    // Disabled on one process: refused by the other and by stdio at once, and back when enabled elsewhere.
    expect((await rest(a!.url, 'PATCH', `/v1/keys/${id}`, { key: admin.secret, body: { enabled: false } })).status).toBe(200);
    expect(await me(b!, secret)).toBe('DISABLED_API_KEY');
    expect(await stdio.fail('whoami')).toMatchObject({ type: 'DISABLED_API_KEY' });
    expect((await rest(b!.url, 'PATCH', `/v1/keys/${id}`, { key: admin.secret, body: { enabled: true } })).status).toBe(200);
    expect([await me(a!, secret), (await stdio.call('whoami')).ok]).toEqual(['ok', true]);

    // Rotated with a grace period on one process: old and new both work on the other.
    const rotated = await rest(a!.url, 'POST', `/v1/keys/${id}/rotate`, { key: admin.secret, body: { grace_period_seconds: 3600 } });
    expect(rotated.status).toBe(200);
    const next = rotated.json as { key: { id: string }; secret: string };
    expect([await me(b!, secret), await me(b!, next.secret), (await stdio.call('whoami')).ok]).toEqual(['ok', 'ok', true]);

    // Rotated with no grace: the key it replaces is refused everywhere on the next request.
    const again = await rest(b!.url, 'POST', `/v1/keys/${next.key.id}/rotate`, { key: admin.secret, body: { grace_period_seconds: 0 } });
    expect(again.status).toBe(200);
    expect([await me(a!, next.secret), await me(b!, next.secret)]).toEqual(['REVOKED_API_KEY', 'REVOKED_API_KEY']);

    // Revoked on one process: refused by the other and by stdio at once.
    expect((await rest(b!.url, 'DELETE', `/v1/keys/${id}`, { key: admin.secret })).status).toBe(200);
    expect([await me(a!, secret), await me(b!, secret)]).toEqual(['REVOKED_API_KEY', 'REVOKED_API_KEY']);
    expect(await stdio.fail('whoami')).toMatchObject({ type: 'REVOKED_API_KEY' });
  });

  it('keeps a dashboard session across processes: signed in on one, used and signed out on another, ended by a revocation made on a third', async () => {
    const admin = await init(box);
    const [a, b, c] = await serveAll(3);
    const reader = (await rest(a!.url, 'POST', '/v1/api-keys', { key: admin.secret, body: { name: 'on-call', permissions: ['keys:read'] } })).json as { id: string; secret_key: string };
    const form = (base: string, path: string, fields: Record<string, string>, cookie = '') =>
      fetch(`${base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin: base, cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields).toString(),
      });
    const page = (base: string, cookie: string) => fetch(`${base}/dashboard`, { redirect: 'manual', headers: { cookie } });
    const signIn = async (base: string) => (await form(base, '/dashboard/sign-in', { key: reader.secret_key })).headers.getSetCookie()[0]!.split(';')[0]!;

    const cookie = await signIn(a!.url);
    const onB = await page(b!.url, cookie);
    expect(onB.status).toBe(200);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await onB.text())![1]!;
    expect((await form(b!.url, '/dashboard/sign-out', { csrf }, cookie)).status).toBe(303);
    expect((await page(a!.url, cookie)).status).toBe(303);

    const again = await signIn(b!.url);
    expect((await page(a!.url, again)).status).toBe(200);
    expect((await rest(c!.url, 'DELETE', `/v1/keys/${reader.id}`, { key: admin.secret })).status).toBe(200);
    const ended = await page(a!.url, again);
    expect(ended.status).toBe(303);
    expect(ended.headers.get('location')).toMatch(/^\/dashboard\/sign-in/);
  });

  it('answers a clean INTERNAL_ERROR while PostgreSQL restarts, recovers by itself and keeps every acknowledged write', async () => {
    const admin = await init(box, ['--plan', 'enterprise', '--requests-per-hour', '100000', '--max-concurrency', '50']);
    const server = await serve(box);
    const acknowledged: string[] = [];
    const answers: HttpAnswer[] = [];
    let stop = false;
    const load = async (worker: number) => {
      for (let i = 0; !stop && i < 2_000; i++) {
        const answer =
          i % 2 === 0
            ? await rest(server.url, 'POST', '/v1/api-keys', { key: admin.secret, body: { name: `load-${worker}-${i}`, permissions: ['keys:read'] } })
            : await rest(server.url, 'GET', '/v1/keys?limit=5', { key: admin.secret });
        answers.push(answer);
        if (answer.status === 201) acknowledged.push((answer.json as { id: string }).id);
        if (answer.status >= 500) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const running = [load(0), load(1), load(2), load(3)];
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = answers.length;
    await pg.restart();
    // Load goes on past the restart until the server answers successfully again, and a little longer.
    const backAt = answers.length;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !answers.slice(backAt).some((a) => a.status === 200 || a.status === 201)) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 300));
    stop = true;
    await Promise.all(running);

    expect(before).toBeGreaterThan(0);
    const failures = answers.filter((a) => a.status !== 200 && a.status !== 201);
    for (const failure of failures) {
      expect(failure.status).toBe(500);
      expect(failure.json).toEqual({ error: { code: 500, type: 'INTERNAL_ERROR', message: 'Internal error', details: {} } });
    }
    // After the gap every request succeeds again, with no restart of serve.
    expect(server.child.exitCode).toBeNull();
    for (let i = 0; i < 5; i++) {
      expect((await rest(server.url, 'GET', '/v1/keys?limit=5', { key: admin.secret })).status).toBe(200);
      const created = await rest(server.url, 'POST', '/v1/api-keys', { key: admin.secret, body: { name: `after-${i}`, permissions: ['keys:read'] } });
      expect(created.status).toBe(201);
      acknowledged.push((created.json as { id: string }).id);
    }
    // Every key whose creation was acknowledged is there.
    const stored = await pg.sql<{ id: string }>(url, 'SELECT id FROM keys');
    const ids = new Set(stored.map((r) => r.id));
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);
    // Nothing internal in the logs' answers either: the server logged each failure without a token.
    expect(server.stderr()).not.toContain(admin.secret);
  });

  it('loads the PostgreSQL driver, and not SQLite’s, for a postgres:// URL', async () => {
    expect(await driversLoaded(url)).toEqual(['pg']);
  });

  it('refuses, in one line, a database migrated by a newer dispersl-mcp, changing nothing', async () => {
    await init(box);
    await pg.sql(url, 'UPDATE dispersl_schema SET version = $1', [PG_SCHEMA_VERSION + 1]);
    for (const args of [['init'], ['serve', '--port', '0']]) {
      const run = await runCli(args, box.env());
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`dispersl-mcp: the database has schema version ${PG_SCHEMA_VERSION + 1}, newer than this dispersl-mcp supports (${PG_SCHEMA_VERSION}); upgrade dispersl-mcp\n`);
    }
    expect(await pg.sql(url, 'SELECT count(*)::int AS n FROM organizations')).toEqual([{ n: 1 }]);
  });

  it('starts several serve processes on a new database at once: one organization and its key, printed once, working on every process', async () => {
    const servers = await serveAll(3);
    const printed = servers.map((s) => s.stdout()).filter((out) => out.includes('Admin key'));
    expect(printed).toHaveLength(1);
    // Three processes migrated the new database at once: it was migrated once, to the current version.
    expect(await pg.sql(url, 'SELECT version FROM dispersl_schema')).toEqual([{ version: PG_SCHEMA_VERSION }]);
    expect(await pg.sql(url, 'SELECT count(*)::int AS n FROM organizations')).toEqual([{ n: 1 }]);
    const secret = /^ {2}(pk_live_[0-9A-Za-z]+)$/m.exec(printed[0]!)?.[1];
    for (const server of servers) expect((await rest(server.url, 'GET', '/v1/me', { key: secret! })).status).toBe(200);
    expect(servers.map((s) => s.stdout()).join('')).not.toMatch(/postgres:\/\/[^@\s]*:[^@\s*]+@/);
  });
});
