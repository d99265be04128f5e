import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isErrorType } from '../../src/core/errors.js';
import { JSONRPC } from '../../src/mcp/protocol.js';
import { MODERN_ERRORS } from '../../src/mcp/eras.js';
import { TOOLS } from '../../src/mcp/tool.js';
import { anyJson, hostile, toolCall } from '../helpers/reliability-arbitraries.js';
import { invariantViolations, tempDir } from '../helpers/reliability-db.js';
import { ServeProcess, cliEnv, initDb, rest } from '../helpers/reliability-proc.js';
import { SecretLedger } from '../helpers/reliability-secrets.js';
import { fcOptions } from './runs.js';

/**
 * MCP over Streamable HTTP under generated requests, against a real server on loopback: every
 * endpoint (/mcp, /ot/<key>, their /readonly forms), single messages and batches, notifications and
 * stray responses, tool calls with generated arguments, wrong media types, foreign Origins, unknown
 * protocol versions and broken bodies. Never a 5xx, never an internal JSON-RPC error; every tool
 * result is either its output schema or the contract envelope.
 */

const outputOf = new Map(TOOLS.map((t) => [t.name, t.output]));
const RPC_CODES = [...Object.values(JSONRPC), ...Object.values(MODERN_ERRORS), -32000, -32001];

describe('MCP over HTTP under generated requests', () => {
  const tmp = tempDir('mcphttp');
  const ledger = new SecretLedger();
  const said: string[] = [];
  let server: ServeProcess;
  let base: string;
  const keys: Array<string | undefined> = [];
  const known: string[] = [];

  beforeAll(async () => {
    const admin = await initDb(tmp.dir, tmp.db(), ['--plan', 'enterprise', '--requests-per-hour', '10000000', '--max-concurrency', '1000']);
    ledger.record(admin.secret, 'init');
    server = new ServeProcess(cliEnv(tmp.dir, { DISPERSL_DB: tmp.db() }));
    base = await server.url();
    const reader = await rest(base, 'POST', '/v1/api-keys', admin.secret, { name: 'reader', permissions: ['keys:read'] });
    const readerKey = (reader.json as { secret_key: string }).secret_key;
    ledger.record(readerKey, 'POST /v1/api-keys (reader)');
    for (let i = 0; i < 8; i++) {
      const made = await rest(base, 'POST', '/v1/api-keys', admin.secret, { name: `pool ${i}`, permissions: ['keys:read'] });
      ledger.record((made.json as { secret_key: string }).secret_key, `POST /v1/api-keys (pool ${i})`);
      known.push((made.json as { id: string }).id);
    }
    keys.push(admin.secret, admin.secret, admin.secret, readerKey, undefined, 'pk_live_broken');
  });

  afterAll(async () => {
    await server.stop();
    tmp.cleanup();
  });

  const message = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(toolCall, fc.nat()).map(([c, n]) => ({ kind: 'call' as const, c, n })) },
    { weight: 2, arbitrary: fc.constantFrom('tools/list', 'initialize', 'ping', 'resources/list', 'nope').map((method) => ({ kind: 'method' as const, method })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'notification' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'response' as const }) },
    { weight: 1, arbitrary: hostile.map((value) => ({ kind: 'hostile' as const, value })) },
  );
  type Message = typeof message extends fc.Arbitrary<infer T> ? T : never;

  const request = fc.record({
    endpoint: fc.constantFrom('/mcp', '/mcp', '/mcp/readonly', '/ot', '/ot/readonly'),
    key: fc.nat(),
    body: fc.oneof(
      { weight: 6, arbitrary: message.map((m) => [m]) },
      { weight: 2, arbitrary: fc.array(message, { minLength: 0, maxLength: 5 }).map((ms) => ({ batch: ms })) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 100 }), anyJson.map((v) => JSON.stringify(v))).map((raw) => ({ raw })) },
    ),
    contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') }, { weight: 1, arbitrary: fc.constantFrom('text/plain', '', 'application/json; charset=utf-8') }),
    origin: fc.oneof({ weight: 8, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1', 'http://localhost:1') }),
    version: fc.oneof({ weight: 8, arbitrary: fc.constant<string | undefined>(undefined) }, { weight: 1, arbitrary: fc.constantFrom('2025-06-18', '2025-03-26', '1999-01-01', 'garbage') }),
  });

  let rpcId = 1;
  /** The id each generated call went out with, to match an answer to its tool. */
  const ids = new WeakMap<object, number>();
  function toJson(m: Message): unknown {
    switch (m.kind) {
      case 'call': {
        const args = { ...m.c.args } as Record<string, unknown>;
        if ('known' in m.c.id) args.id = known[m.c.id.known % known.length];
        else if (m.c.id.made !== undefined) args.id = m.c.id.made;
        const id = rpcId++;
        ids.set(m, id);
        return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: m.c.tool, arguments: args } };
      }
      case 'method':
        return { jsonrpc: '2.0', id: rpcId++, method: m.method, params: m.method === 'initialize' ? { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } : {} };
      case 'notification':
        return { jsonrpc: '2.0', method: 'notifications/initialized' };
      case 'response':
        return { jsonrpc: '2.0', id: 7, result: {} };
      case 'hostile':
        return m.value;
    }
  }

  function checkResult(name: string | undefined, result: Record<string, unknown>, where: string): void {
    if (name === undefined || !('content' in result)) return;
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    if (result.isError) {
      const { error } = JSON.parse(text) as { error: { type: string } };
      expect(isErrorType(error.type), where).toBe(true);
      expect(error.type, where).not.toBe('INTERNAL_ERROR');
      said.push(text);
      return;
    }
    expect(outputOf.get(name)!.safeParse(result.structuredContent).success, where).toBe(true);
    const secret = (result.structuredContent as { secret?: string }).secret;
    if (secret !== undefined) {
      ledger.record(secret, `${name} over HTTP`);
      known.push((result.structuredContent as { key: { id: string } }).key.id);
    } else said.push(text);
  }

  it('answers every generated request without a 5xx or an internal error', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const key = keys[r.key % keys.length];
        const path = r.endpoint.startsWith('/ot') ? r.endpoint.replace('/ot', `/ot/${key ?? 'none'}`) : r.endpoint;
        const messages = Array.isArray(r.body) ? r.body : 'batch' in r.body ? r.body.batch : [];
        const json = Array.isArray(r.body) ? toJson(r.body[0]!) : 'batch' in r.body ? r.body.batch.map(toJson) : undefined;
        const text = 'raw' in r.body ? r.body.raw : JSON.stringify(json);
        const headers: Record<string, string> = { accept: 'application/json, text/event-stream' };
        if (r.contentType) headers['content-type'] = r.contentType;
        if (key !== undefined && !r.endpoint.startsWith('/ot')) headers.authorization = `Bearer ${key}`;
        if (r.origin) headers.origin = r.origin;
        if (r.version) headers['mcp-protocol-version'] = r.version;
        const res = await fetch(base + path, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(15_000) });
        const body = await res.text();
        const where = `POST ${r.endpoint} ${text.slice(0, 200)} -> ${res.status} ${body.slice(0, 300)}`;
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, where).toBeLessThan(500);
        if (res.status === 202) {
          expect(body, where).toBe('');
          return;
        }
        const answer = JSON.parse(body) as unknown;
        if (res.status === 401) expect(res.headers.get('www-authenticate'), where).toMatch(/^Bearer/);
        const answers = (Array.isArray(answer) ? answer : [answer]) as Array<{ id?: unknown; result?: Record<string, unknown>; error?: { code: number } }>;
        for (const a of answers) {
          if (a.error) {
            expect(RPC_CODES, where).toContain(a.error.code);
            expect(a.error.code, where).not.toBe(JSONRPC.INTERNAL_ERROR);
            said.push(JSON.stringify(a));
          } else {
            const sent = messages.find((m) => m.kind === 'call' && ids.get(m) === a.id);
            checkResult(sent?.kind === 'call' ? sent.c.tool : undefined, a.result!, where);
          }
        }
      }),
      fcOptions(500),
    );
    if (process.env.DISPERSL_RELIABILITY_VERBOSE) console.log(Object.fromEntries(statuses));
    expect(statuses.get(200)).toBeGreaterThan(100);
    expect(server.stderr).not.toMatch(/"status":5\d\d|"level":"error"/);
    expect(invariantViolations(tmp.db())).toEqual([]);
    expect(ledger.leaks({ 'server log': server.stderr + server.stdout, 'other answers': said.join('\n') })).toEqual([]);
  });
});
