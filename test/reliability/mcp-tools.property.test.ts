import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DisperslError, isErrorType, statusOf } from '../../src/core/errors.js';
import { JSONRPC } from '../../src/mcp/protocol.js';
import { TOOLS } from '../../src/mcp/tool.js';
import { type ToolCallCase, anyJson, hostile, toolCall } from '../helpers/reliability-arbitraries.js';
import { auditText, databaseBytes, invariantViolations, tempDir } from '../helpers/reliability-db.js';
import { type LocalWorld, openWorld } from '../helpers/reliability-local.js';
import { SecretLedger } from '../helpers/reliability-secrets.js';
import { fcOptions } from './runs.js';

const ID_TOOLS = new Set(['get_key', 'revoke_key', 'rotate_key', 'update_key']);
const outputOf = new Map(TOOLS.map((t) => [t.name, t.output]));
/** Which caller makes a generated call (indexes into callers): mostly keys that may act, some that may not. */
const WEIGHTED = [0, 0, 0, 0, 1, 1, 2, 3, 4, 5];

interface CallerSlot {
  label: string;
  token: string | undefined;
  keyId: string | undefined;
  permissions: string[];
}

describe('every MCP tool under generated arguments (stdio dispatcher, real runner, LocalKeyApi, SQLite file)', () => {
  const tmp = tempDir('tools');
  const ledger = new SecretLedger();
  const otherResponses: string[] = [];
  let world: LocalWorld;
  let callers: CallerSlot[];
  /** Keys the generated calls act on: created up front and by the calls themselves (never a caller's own key). */
  const known: string[] = [];
  let foreignIds: string[] = [];
  let nextRpcId = 1;

  async function rpc(message: unknown, token: string | undefined) {
    // Over the wire arguments are JSON: round-trip them so the dispatcher sees what a client can send.
    const wire = JSON.parse(JSON.stringify(message)) as unknown;
    return world.dispatcher.handle(wire, { api: world.apiFor(token), readOnly: false });
  }

  async function callTool(name: string, args: unknown, caller: CallerSlot) {
    const response = await rpc({ jsonrpc: '2.0', id: nextRpcId++, method: 'tools/call', params: { name, arguments: args } }, caller.token);
    return response!;
  }

  beforeAll(async () => {
    world = openWorld(tmp.db());
    const admin = await world.createOrg('enterprise', { requests_per_hour: 1_000_000_000, max_concurrency: 1_000 });
    ledger.record(admin.secret, 'createOrganization');
    const adminSlot: CallerSlot = { label: 'admin', token: admin.secret, keyId: admin.keyId, permissions: ['admin'] };
    const make = async (args: Record<string, unknown>, label: string): Promise<CallerSlot> => {
      const r = await callTool('generate_key', args, adminSlot);
      const value = (r as unknown as { result: { structuredContent: { key: { id: string; permissions: string[] }; secret: string } } }).result.structuredContent;
      ledger.record(value.secret, `generate_key (${label})`);
      return { label, token: value.secret, keyId: value.key.id, permissions: value.key.permissions };
    };
    callers = [
      adminSlot,
      await make({ name: 'writer', permissions: ['keys:read', 'keys:write', 'nodes.read.own'] }, 'writer'),
      await make({ name: 'reader', permissions: ['keys:read'] }, 'reader'),
      await make({ name: 'test admin', environment: 'test' }, 'test admin'),
      { label: 'no key', token: undefined, keyId: undefined, permissions: [] },
      { label: 'bad key', token: 'pk_live_notarealkey', keyId: undefined, permissions: [] },
    ];
    for (let i = 0; i < 12; i++) {
      const slot = await make({ name: `pool ${i}`, permissions: i % 2 ? ['keys:read'] : ['admin'], environment: i % 3 ? 'live' : 'test' }, `pool ${i}`);
      known.push(slot.keyId!);
    }
    // Another organization's keys: every call naming them must answer exactly as for an unknown id.
    const other = await world.createOrg('free');
    ledger.record(other.secret, 'createOrganization (other org)');
    foreignIds = [other.keyId];
  });

  afterAll(async () => {
    world.close();
    tmp.cleanup();
  });

  function resolveArgs(c: ToolCallCase, caller: CallerSlot): unknown {
    if (!ID_TOOLS.has(c.tool)) return c.args;
    let id: unknown;
    if ('known' in c.id) {
      const n = c.id.known;
      if (n % 10 === 0 && c.tool !== 'rotate_key') id = caller.keyId ?? known[0];
      else if (n % 10 === 1) id = foreignIds[n % foreignIds.length];
      else id = known[n % known.length];
    } else id = c.id.made;
    return id === undefined ? c.args : { ...c.args, id };
  }

  it('answer every generated call with a result or the contract envelope, never an internal error', async () => {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(toolCall, fc.nat()), { minLength: 1, maxLength: 4 }), async (batch) => {
        // A batch runs concurrently, so one group commit of the gate carries mixed outcomes.
        await Promise.all(
          batch.map(async ([c, pick]) => {
            const caller = callers[WEIGHTED[pick % WEIGHTED.length]!]!;
            const response = await callTool(c.tool, resolveArgs(c, caller), caller);
            expect('result' in response, JSON.stringify(response)).toBe(true);
            const result = (response as unknown as { result: { isError?: boolean; content: Array<{ type: string; text: string }>; structuredContent?: unknown } }).result;
            expect(result.content).toHaveLength(1);
            const text = result.content[0]!.text;
            if (result.isError) {
              const { error } = JSON.parse(text) as { error: { code: number; type: string; message: string; details: unknown } };
              expect(isErrorType(error.type), text).toBe(true);
              expect(error.type, `${c.tool} ${JSON.stringify(c.args)} -> ${text}`).not.toBe('INTERNAL_ERROR');
              expect(error.code).toBe(statusOf(error.type as DisperslError['type']));
              expect(typeof error.message).toBe('string');
              expect(error.message).not.toMatch(/SQLITE|TypeError|RangeError|ReferenceError|\sat \S+ \(|file:\/\/|node:internal/);
              outcomes.set(`${c.tool}:${error.type}`, (outcomes.get(`${c.tool}:${error.type}`) ?? 0) + 1);
              otherResponses.push(text);
              return;
            }
            outcomes.set(`${c.tool}:ok`, (outcomes.get(`${c.tool}:ok`) ?? 0) + 1);
            expect(text).toBe(JSON.stringify(result.structuredContent));
            const parsed = outputOf.get(c.tool)!.safeParse(result.structuredContent);
            expect(parsed.success, `${c.tool} output: ${text}`).toBe(true);
            const value = result.structuredContent as { key?: { id: string; permissions: string[] }; secret?: string };
            if (c.tool === 'generate_key' || c.tool === 'rotate_key') {
              ledger.record(value.secret!, `${c.tool} #${nextRpcId}`);
              known.push(value.key!.id);
              // A caller never mints a key holding a permission it lacks.
              if (!caller.permissions.includes('admin')) for (const p of value.key!.permissions) expect(caller.permissions).toContain(p);
            } else otherResponses.push(text);
          }),
        );
      }),
      fcOptions(1500),
    );
    if (process.env.DISPERSL_RELIABILITY_VERBOSE) console.log(Object.fromEntries([...outcomes].sort()));
    // The run explored both sides of every tool: some calls succeeded and some were refused.
    for (const tool of TOOLS) {
      const seen = [...outcomes.keys()].filter((k) => k.startsWith(`${tool.name}:`));
      expect(seen, tool.name).toContain(`${tool.name}:ok`);
      expect(seen.length, `${tool.name}: ${seen.join(', ')}`).toBeGreaterThan(1);
    }
    expect(invariantViolations(tmp.db())).toEqual([]);
  });

  it('answer malformed JSON-RPC with a JSON-RPC error, never by throwing', async () => {
    const message = fc.oneof(
      hostile,
      fc.record({ jsonrpc: fc.oneof(fc.constant('2.0'), hostile), id: fc.oneof(fc.nat(), fc.string(), hostile), method: fc.oneof(fc.constantFrom('tools/call', 'tools/list', 'initialize', 'ping', 'nope'), hostile), params: hostile }, { requiredKeys: [] }),
      fc.record({ jsonrpc: fc.constant('2.0'), id: fc.nat(), method: fc.constant('tools/call'), params: fc.record({ name: fc.oneof(fc.constantFrom(...TOOLS.map((t) => t.name)), hostile), arguments: anyJson }, { requiredKeys: [] }) }),
    );
    await fc.assert(
      fc.asyncProperty(message, fc.nat(), async (m, pick) => {
        const caller = callers[pick % callers.length]!;
        const response = await rpc(m, caller.token);
        if (response === undefined) return; // a notification or a client response: nothing to answer
        if ('error' in response) {
          expect(Object.values(JSONRPC)).toContain(response.error.code);
          expect(response.error.code).not.toBe(JSONRPC.INTERNAL_ERROR);
        } else {
          const result = response.result as { isError?: boolean; content?: Array<{ text: string }> };
          if (result.isError) expect((JSON.parse(result.content![0]!.text) as { error: { type: string } }).error.type).not.toBe('INTERNAL_ERROR');
        }
        otherResponses.push(JSON.stringify(response));
      }),
      fcOptions(800),
    );
    expect(invariantViolations(tmp.db())).toEqual([]);
  });

  it('call the service directly with any value, JSON or not, and get a value or a typed error', async () => {
    const admission = await world.gate.admit({ token: callers[0]!.token, ip: '127.0.0.1' });
    admission.release();
    const methods = ['listKeys', 'getKey', 'generateKey', 'revokeKey', 'rotateKey', 'updateKey'] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), fc.oneof(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true }), fc.record({ id: fc.anything(), name: fc.anything(), permissions: fc.anything() }, { requiredKeys: [] })), async (method, input) => {
        try {
          await world.service.execute(method, admission.caller, input);
        } catch (err) {
          expect(err).toBeInstanceOf(DisperslError);
          expect((err as DisperslError).type).not.toBe('INTERNAL_ERROR');
        }
      }),
      fcOptions(2000),
    );
    expect(invariantViolations(tmp.db())).toEqual([]);
  });

  it('never let an issued token reach a log line, an audit row, another response or the database file', () => {
    expect(ledger.size).toBeGreaterThan(20);
    expect(
      ledger.leaks({
        'log lines': world.logLines.join('\n'),
        'audit rows': auditText(tmp.db()),
        'other responses': otherResponses.join('\n'),
        'database file': databaseBytes(tmp.db()),
      }),
    ).toEqual([]);
  });
});
