import { describe, expect, it } from 'vitest';
import { generateToken } from '../src/core/tokens.js';
import { ALL_TOOLS, READ_TOOLS } from './helpers/mcp-client.js';
import { init, runCli } from './helpers/sandbox.js';
import { useWorkspace } from './helpers/workspace.js';

const ws = useWorkspace();

/** Plausible arguments for every tool, so each call reaches authentication. */
const ARGS: Record<string, Record<string, unknown>> = {
  list_keys: {},
  get_key: { id: 'key_abc' },
  generate_key: { name: 'x' },
  revoke_key: { id: 'key_abc' },
  rotate_key: { id: 'key_abc' },
  update_key: { id: 'key_abc', name: 'y' },
  whoami: {},
};

describe('MCP over stdio: read-only mode', () => {
  const modes: Array<[string, { args?: string[]; env?: Record<string, string> }]> = [
    ['--read-only', { args: ['--read-only'] }],
    ['stdio --read-only', { args: ['stdio', '--read-only'] }],
    ['DISPERSL_READ_ONLY=1', { env: { DISPERSL_READ_ONLY: '1' } }],
  ];
  for (const [label, options] of modes) {
    it(`hides and refuses the write tools with ${label}`, async () => {
      const admin = await init(ws.box);
      const s = await ws.connect({ key: admin.secret, ...options });
      expect(await s.toolNames()).toEqual(READ_TOOLS);
      expect(await s.ok('whoami')).toMatchObject({ key: { id: admin.keyId } });
      for (const tool of ['generate_key', 'revoke_key', 'rotate_key', 'update_key']) {
        await expect(s.client.callTool({ name: tool, arguments: ARGS[tool] })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining('read-only') });
      }
      expect(await s.ok('list_keys')).toMatchObject({ keys: [{ id: admin.keyId, name: 'Admin key' }] });
    });
  }

  it('shows every tool when DISPERSL_READ_ONLY is 0', async () => {
    const admin = await init(ws.box);
    const s = await ws.connect({ key: admin.secret, env: { DISPERSL_READ_ONLY: '0' } });
    expect(await s.toolNames()).toEqual(ALL_TOOLS);
  });
});

describe('MCP over stdio: the key it is started with', () => {
  for (const [label, key] of [
    ['without DISPERSL_API_KEY', undefined],
    ['with an empty DISPERSL_API_KEY', ''],
  ] as const) {
    it(`starts ${label}, lists every tool, and answers each call MISSING_API_KEY with a hint`, async () => {
      await init(ws.box);
      const s = await ws.connect({ key });
      expect(await s.toolNames()).toEqual(ALL_TOOLS);
      for (const tool of ALL_TOOLS) {
        const error = await s.fail(tool, ARGS[tool]);
        expect(error, tool).toMatchObject({ code: 401, type: 'MISSING_API_KEY', message: 'No Bearer token provided' });
        expect(error.details.hint, tool).toEqual(expect.stringContaining('DISPERSL_API_KEY'));
      }
    });
  }

  it('starts with a bad key and says so at the first tool call', async () => {
    const admin = await init(ws.box);
    const typo = `${admin.secret.slice(0, -1)}${admin.secret.endsWith('x') ? 'y' : 'x'}`;
    const cases: Array<[string, string]> = [
      ['pk_live_oops', 'INVALID_API_KEY'],
      [typo, 'INVALID_API_KEY'],
      [generateToken('live').token, 'INVALID_API_KEY'],
    ];
    for (const [key, type] of cases) {
      const s = await ws.connect({ key });
      expect(await s.toolNames()).toEqual(ALL_TOOLS);
      const error = await s.fail('whoami');
      expect(error).toMatchObject({ code: 401, type });
      expect(JSON.stringify(error)).not.toContain(key);
      // Logs may show a key's start (its first 12 characters), never the rest.
      if (key.length > 12) expect(s.stderr()).not.toContain(key.slice(12));
    }
  });

  it('accepts a key pasted with whitespace around it', async () => {
    const admin = await init(ws.box);
    const s = await ws.connect({ key: `  ${admin.secret}\n` });
    expect(await s.ok('whoami')).toMatchObject({ key: { id: admin.keyId } });
  });

  it('starts with a revoked key and answers REVOKED_API_KEY', async () => {
    const admin = await init(ws.box);
    const a = await ws.connect({ key: admin.secret });
    const made = (await a.ok('generate_key', { name: 'gone' })) as { key: { id: string }; secret: string };
    await a.ok('revoke_key', { id: made.key.id });
    const s = await ws.connect({ key: made.secret });
    expect(await s.fail('list_keys')).toMatchObject({ code: 401, type: 'REVOKED_API_KEY' });
  });
});

describe('MCP over stdio: the streams', () => {
  it('writes only JSON-RPC 2.0 to stdout, structured logs without any token to stderr, and exits when stdin closes', async () => {
    const admin = await init(ws.box, ['--plan', 'enterprise']);
    const rpc = (id: number, method: string, params: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: '2.0', id, method, params });
    const input = [
      rpc(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }),
      JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      rpc(2, 'tools/list'),
      rpc(3, 'tools/call', { name: 'generate_key', arguments: { name: 'printed once', environment: 'test' } }),
      rpc(4, 'tools/call', { name: 'rotate_key', arguments: { id: admin.keyId, grace_period_seconds: 60 } }),
      rpc(5, 'tools/call', { name: 'whoami', arguments: {} }),
      rpc(6, 'ping'),
      '{"this is": not json',
      rpc(7, 'resources/list'),
      JSON.stringify([JSON.parse(rpc(8, 'ping')), JSON.parse(rpc(9, 'tools/call', { name: 'get_key', arguments: { id: 'key_missing' } }))]),
      '',
    ].join('\n');
    const run = await runCli([], ws.box.env({ DISPERSL_API_KEY: admin.secret, DISPERSL_LOG_LEVEL: 'debug' }), input);
    expect(run.code, run.stderr).toBe(0);

    const lines = run.stdout.split('\n');
    expect(lines.pop()).toBe('');
    const messages = lines.flatMap((line) => {
      const parsed: unknown = JSON.parse(line);
      return Array.isArray(parsed) ? parsed : [parsed];
    }) as Array<{ jsonrpc: string; id: unknown; result?: Record<string, unknown>; error?: { code: number } }>;
    for (const m of messages) {
      expect(m.jsonrpc).toBe('2.0');
      expect('result' in m !== 'error' in m).toBe(true);
    }
    expect(lines).toHaveLength(9);
    expect(messages.map((m) => m.id).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, null].sort());
    expect(messages.find((m) => m.id === null)?.error?.code).toBe(-32700);
    expect(messages.find((m) => m.id === 7)?.error?.code).toBe(-32601);

    const secretOf = (id: number) => (messages.find((m) => m.id === id)?.result?.structuredContent as { secret: string }).secret;
    const secrets = [admin.secret, secretOf(3), secretOf(4)];
    expect(secrets[1]).toMatch(/^pk_test_/);
    expect(secrets[2]).toMatch(/^pk_live_/);
    for (const secret of secrets) {
      expect(run.stderr).not.toContain(secret);
      expect(run.stderr).not.toContain(secret.slice(12));
    }
    const logs = run.stderr.trim().split('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) expect(JSON.parse(line)).toMatchObject({ level: expect.any(String), msg: expect.any(String) });
  });
});
