import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invariantViolations, query, tempDir } from '../helpers/reliability-db.js';
import { awayFromHourEdge } from '../helpers/reliability-http.js';
import { ServeProcess, StdioProcess, cliEnv, initDb, rest } from '../helpers/reliability-proc.js';
import { runs } from './runs.js';

/**
 * Four processes on one database — two HTTP servers and two stdio servers — charge the same key
 * at once, far past its hourly quota. Exactly the quota is admitted, every other request is a
 * clean 429, and no SQLITE_BUSY or 5xx reaches any client.
 */
const QUOTA = runs(300);
const PER_PROCESS = runs(200);
const CLIENTS_PER_SERVER = 12;

type Outcome = 'admitted' | 'RATE_LIMIT_EXCEEDED' | string;

describe('many processes charging one key on one database', () => {
  const tmp = tempDir('many');
  let key: string;
  let keyId: string;
  const servers: ServeProcess[] = [];
  const stdios: StdioProcess[] = [];

  beforeAll(async () => {
    ({ secret: key, keyId } = await initDb(tmp.dir, tmp.db(), ['--plan', 'enterprise', '--requests-per-hour', String(QUOTA), '--max-concurrency', '1000']));
    const env = cliEnv(tmp.dir, { DISPERSL_DB: tmp.db(), DISPERSL_API_KEY: key });
    for (let i = 0; i < 2; i++) servers.push(new ServeProcess(env));
    for (let i = 0; i < 2; i++) stdios.push(new StdioProcess(env));
    await Promise.all([...servers.map((s) => s.url()), ...stdios.map((s) => s.initialize())]);
  });

  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.stop()), ...stdios.map((s) => s.close())]);
    tmp.cleanup();
  });

  it('admits exactly the quota, refuses the rest with 429, and lets no SQLITE_BUSY or 5xx through', async () => {
    const window = await awayFromHourEdge();
    const outcomes: Outcome[] = [];

    const typeOfResult = (result: { isError?: boolean; content: Array<{ text: string }> }) =>
      result.isError ? (JSON.parse(result.content[0]!.text) as { error: { type: string } }).error.type : 'admitted';

    /** REST calls, lone MCP tool calls and batches of two, in turn, from several clients of one server. */
    const overHttp = async (server: ServeProcess) => {
      const base = await server.url();
      let left = PER_PROCESS;
      let turn = 0;
      const client = async () => {
        while (left > 0) {
          const mode = turn++ % 3;
          if (mode === 0) {
            left--;
            const a = await rest(base, 'GET', '/v1/me', key);
            outcomes.push(a.status === 200 ? 'admitted' : ((a.json as { error?: { type: string } })?.error?.type ?? `HTTP ${a.status}`));
          } else if (mode === 1 || left < 2) {
            left--;
            const a = await rest(base, 'POST', '/mcp', key, { jsonrpc: '2.0', id: left, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
            const result = (a.json as { result?: { isError?: boolean; content: Array<{ text: string }> } })?.result;
            outcomes.push(a.status !== 200 || !result ? `HTTP ${a.status}` : typeOfResult(result));
          } else {
            // A batch: each tool call in it is charged on its own.
            left -= 2;
            const call = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
            const a = await rest(base, 'POST', '/mcp', key, [call(1), call(2)]);
            const results = a.json as Array<{ result?: { isError?: boolean; content: Array<{ text: string }> } }>;
            if (a.status !== 200 || !Array.isArray(results)) outcomes.push(`HTTP ${a.status}`, `HTTP ${a.status}`);
            else for (const r of results) outcomes.push(r.result ? typeOfResult(r.result) : 'RPC error');
          }
        }
      };
      await Promise.all(Array.from({ length: CLIENTS_PER_SERVER }, client));
    };

    /** Pipelined tool calls: all written at once, answered as each is charged. */
    const overStdio = async (stdio: StdioProcess) => {
      const answers = await Promise.all(Array.from({ length: PER_PROCESS }, () => stdio.call('whoami', {}, 30_000)));
      for (const out of answers) outcomes.push(out.ok ? 'admitted' : 'error' in out ? out.error.type : `RPC ${out.rpc.code}`);
    };

    await Promise.all([...servers.map(overHttp), ...stdios.map(overStdio)]);

    const tally = outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o]: (t[o] ?? 0) + 1 }), {});
    expect(outcomes).toHaveLength(4 * PER_PROCESS);
    expect(tally).toEqual({ admitted: QUOTA, RATE_LIMIT_EXCEEDED: 4 * PER_PROCESS - QUOTA });
    const logs = [...servers.map((s) => s.stderr), ...stdios.map((s) => s.stderr)].join('\n');
    expect(logs).not.toMatch(/SQLITE_BUSY|database is locked|"status":5\d\d|"level":"error"/);
    const usage = query<{ hour_window: number; hour_count: number }>(tmp.db(), 'SELECT hour_window, hour_count FROM usage WHERE key_id = ?', keyId)[0]!;
    expect(usage).toEqual({ hour_window: window, hour_count: QUOTA });
    expect(invariantViolations(tmp.db())).toEqual([]);
  });

  it('ends a revoked or disabled key on its very next request in the other process', async () => {
    const { secret: admin } = await initDb(tmp.dir, tmp.db(), ['--plan', 'pro']);
    const [a, b] = await Promise.all(servers.map((s) => s.url()));
    const created = await rest(a!, 'POST', '/v1/api-keys', admin, { name: 'short-lived', permissions: ['keys:read'] });
    const { id, secret_key: token } = created.json as { id: string; secret_key: string };
    expect((await rest(b!, 'GET', '/v1/me', token)).status).toBe(200);
    expect((await rest(a!, 'PATCH', `/v1/keys/${id}`, admin, { enabled: false })).status).toBe(200);
    expect(((await rest(b!, 'GET', '/v1/me', token)).json as { error: { type: string } }).error.type).toBe('DISABLED_API_KEY');
    expect((await rest(a!, 'PATCH', `/v1/keys/${id}`, admin, { enabled: true })).status).toBe(200);
    expect((await rest(b!, 'GET', '/v1/me', token)).status).toBe(200);
    expect((await rest(a!, 'DELETE', `/v1/keys/${id}`, admin)).status).toBe(200);
    expect(((await rest(b!, 'GET', '/v1/me', token)).json as { error: { type: string } }).error.type).toBe('REVOKED_API_KEY');
  });
});

describe('two servers starting together on a fresh database', () => {
  const tmp = tempDir('twostart');
  afterAll(async () => tmp.cleanup());

  it('create one organization, and exactly one of them shows its key', async () => {
    const env = cliEnv(tmp.dir, { DISPERSL_DB: tmp.db() });
    const both = [new ServeProcess(env), new ServeProcess(env)];
    await Promise.all(both.map((s) => s.url()));
    await Promise.all(both.map((s) => s.stop()));
    expect(query<{ n: number }>(tmp.db(), 'SELECT count(*) AS n FROM organizations')[0]!.n).toBe(1);
    expect(both.filter((s) => /Admin key key_/.test(s.stdout))).toHaveLength(1);
  });
});
