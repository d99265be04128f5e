import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditText, databaseBytes, invariantViolations, tempDir } from '../helpers/reliability-db.js';
import { CLI, ServeProcess, cliEnv, initDb, rest } from '../helpers/reliability-proc.js';
import { SecretLedger } from '../helpers/reliability-secrets.js';

/**
 * One end-to-end session over every transport — init, REST, MCP over HTTP (header and /ot/<key>),
 * MCP over stdio, locally and in remote mode — that issues keys, uses them, rotates and revokes them, and trips errors with
 * them. Everything the product says is captured: every process's stdout and stderr, every answer,
 * the audit rows and the raw database file. Each issued token may appear in exactly one place:
 * the answer that created it.
 */

type ToolText = { content: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };

describe('secret hygiene across every transport', () => {
  const tmp = tempDir('hygiene');
  const ledger = new SecretLedger();
  /** Everything said except the answers that created a token. */
  const said: string[] = [];
  let initOutput = '';
  let server: ServeProcess;
  let stdioStderr = '';
  let base: string;
  let admin: string;

  beforeAll(async () => {
    const init = await initDb(tmp.dir, tmp.db(), ['--plan', 'enterprise']);
    admin = init.secret;
    ledger.record(admin, 'init');
    initOutput = init.stdout;
    said.push(init.stderr);
    server = new ServeProcess(cliEnv(tmp.dir, { DISPERSL_DB: tmp.db(), DISPERSL_LOG_LEVEL: 'debug' }));
    base = await server.url();
  });

  afterAll(async () => {
    await server.stop();
    tmp.cleanup();
  });

  /** A REST call whose answer is either an origin (it creates a token) or goes to `said`. */
  async function call(method: string, path: string, key: string | undefined, body?: unknown) {
    const answer = await rest(base, method, path, key, body);
    const json = answer.json as Record<string, unknown> | undefined;
    const secret = (json?.secret_key ?? json?.publicKey ?? json?.secret) as string | undefined;
    if (secret !== undefined && answer.status < 300) ledger.record(secret, `${method} ${path}`);
    else said.push(answer.text, JSON.stringify([...answer.headers]));
    return answer;
  }

  /** A tool call over an MCP client; a result carrying a new secret is its origin, anything else goes to `said`. */
  async function tool(client: Client, name: string, args: Record<string, unknown>, via: string) {
    const result = (await client.callTool({ name, arguments: args })) as ToolText;
    const secret = result.structuredContent?.secret as string | undefined;
    if (secret !== undefined && !result.isError) ledger.record(secret, `${via} ${name}`);
    else said.push(JSON.stringify(result));
    return result;
  }

  const idOf = (answer: { json: unknown }) => {
    const json = answer.json as { id?: string; key?: { id: string } };
    return json.id ?? json.key!.id;
  };

  it('keeps every issued token out of everything but the answer that created it', async () => {
    // REST: create keys both ways, use them, rotate (with and without grace), revoke, and fail with them.
    const created = await call('POST', '/v1/api-keys', admin, { name: 'ci', permissions: ['keys:read', 'keys:write'] });
    expect(created.status).toBe(201);
    const ci = (created.json as { secret_key: string }).secret_key;
    const seeded = await call('GET', '/v1/keys/new?name=seed&environment=test', admin);
    expect(seeded.status).toBe(200);
    const testKey = (seeded.json as { publicKey: string }).publicKey;
    await call('GET', '/v1/me', ci);
    await call('GET', '/v1/keys?include_revoked=true', ci);
    await call('GET', `/v1/keys/${idOf(created)}`, testKey);
    await call('PATCH', `/v1/keys/${idOf(seeded)}`, admin, { name: 'renamed' });
    const rotated = await call('POST', `/v1/keys/${idOf(created)}/rotate`, admin, { grace_period_seconds: 0 });
    expect(rotated.status).toBe(200);
    const ci2 = (rotated.json as { secret: string }).secret;
    await call('GET', '/v1/me', ci); // the old key: REVOKED_API_KEY
    await call('GET', '/v1/me', ci2);
    await call('DELETE', `/v1/keys/${idOf(created)}`, ci2); // revoking a key already revoked answers it again
    await call('POST', '/v1/api-keys', ci2, { name: 'too much', permissions: ['admin'] }); // INSUFFICIENT_PERMISSIONS
    await call('GET', '/v1/me', `${ci2}x`); // a damaged token
    await call('GET', '/v1/me', ci2.slice(0, -1));
    await call('POST', '/v1/api-keys', admin, `{"name": "${ci2}`); // a body that is not JSON and holds a token
    const selfRotate = await call('POST', `/v1/keys/${idOf(rotated)}/rotate`, ci2, { grace_period_seconds: 60 });
    expect(selfRotate.status).toBe(200);
    await call('GET', '/v1/me', ci2); // still inside its grace period

    // MCP over HTTP: the header form and the key-in-path form.
    const overHeader = new Client({ name: 'hygiene', version: '1' });
    await overHeader.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${admin}` } } }));
    await overHeader.listTools();
    const viaHttp = await tool(overHeader, 'generate_key', { name: 'from http', environment: 'test' }, 'mcp http');
    const httpKey = viaHttp.structuredContent!.secret as string;
    const httpId = (viaHttp.structuredContent!.key as { id: string }).id;
    await tool(overHeader, 'whoami', {}, 'mcp http');
    await tool(overHeader, 'list_keys', { include_revoked: true }, 'mcp http');
    await overHeader.close();

    const inPath = new Client({ name: 'hygiene', version: '1' });
    await inPath.connect(new StreamableHTTPClientTransport(new URL(`${base}/ot/${httpKey}`)));
    await tool(inPath, 'whoami', {}, 'mcp /ot');
    await tool(inPath, 'rotate_key', { id: httpId, grace_period_seconds: 0 }, 'mcp /ot'); // rotates itself
    await inPath.close();
    said.push((await rest(base, 'POST', `/ot/${httpKey}`, undefined, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).text); // now revoked

    // MCP over stdio, with the admin key in its environment.
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'stdio'],
      env: cliEnv(tmp.dir, { DISPERSL_DB: tmp.db(), DISPERSL_API_KEY: admin, DISPERSL_LOG_LEVEL: 'debug' }) as Record<string, string>,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => (stdioStderr += chunk.toString('utf8')));
    const overStdio = new Client({ name: 'hygiene', version: '1' });
    await overStdio.connect(transport);
    await overStdio.listTools();
    const viaStdio = await tool(overStdio, 'generate_key', { name: 'from stdio' }, 'stdio');
    const stdioId = (viaStdio.structuredContent!.key as { id: string }).id;
    await tool(overStdio, 'rotate_key', { id: stdioId }, 'stdio');
    await tool(overStdio, 'revoke_key', { id: stdioId }, 'stdio');
    await tool(overStdio, 'get_key', { id: stdioId }, 'stdio');
    await tool(overStdio, 'update_key', { id: idOf(seeded), enabled: false }, 'stdio');
    await tool(overStdio, 'generate_key', { name: 'bad', expires_at: '2000-01-01T00:00:00Z' }, 'stdio');
    await overStdio.close();

    // MCP over stdio in remote mode: the same tools over this server's REST API.
    const remoteTransport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'stdio'],
      env: cliEnv(tmp.dir, { DISPERSL_BASE_URL: `${base}/v1`, DISPERSL_API_KEY: admin, DISPERSL_LOG_LEVEL: 'debug' }) as Record<string, string>,
      stderr: 'pipe',
    });
    remoteTransport.stderr?.on('data', (chunk: Buffer) => (stdioStderr += chunk.toString('utf8')));
    const remote = new Client({ name: 'hygiene', version: '1' });
    await remote.connect(remoteTransport);
    const viaRemote = await tool(remote, 'generate_key', { name: 'from remote' }, 'stdio remote');
    expect(viaRemote.isError).toBeFalsy();
    const remoteId = (viaRemote.structuredContent!.key as { id: string }).id;
    await tool(remote, 'rotate_key', { id: remoteId, grace_period_seconds: 0 }, 'stdio remote');
    await tool(remote, 'get_key', { id: remoteId }, 'stdio remote');
    await tool(remote, 'revoke_key', { id: remoteId }, 'stdio remote');
    await remote.close();

    expect(ledger.size).toBeGreaterThanOrEqual(11);
    await server.stop();
    const places = {
      'serve stdout': server.stdout,
      'serve stderr': server.stderr,
      'stdio stderr': stdioStderr,
      'other answers and their headers': said.join('\n'),
      'audit rows': auditText(tmp.db()),
      'database file': databaseBytes(tmp.db()),
    };
    expect(ledger.leaks(places)).toEqual([]);
    // The logs did record this session (so the search above looked at something real), by key start only.
    expect(server.stderr).toMatch(/"path":"\/ot\/\[redacted\]"/);
    expect(server.stderr).toContain(`"key":"${admin.slice(0, 12)}"`);
    expect(stdioStderr).toMatch(/tool call/);
    // init's output is the origin of the admin key, and holds no other token.
    expect(initOutput).toContain(admin);
    expect([...initOutput.matchAll(/pk_(live|test)_[0-9A-Za-z]{38}/g)].every((m) => m[0] === admin)).toBe(true);
    expect(invariantViolations(tmp.db())).toEqual([]);
  });
});
