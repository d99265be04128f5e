import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { type Served, adminSandboxEachTest, httpClient, rest, serve, tool } from './helpers/http-serve.js';
import { BIN } from './helpers/sandbox.js';

/**
 * Destructive calls ask the human first, with the real SDK clients: v2 over 2026-07-28 (multi
 * round-trip form elicitation), v1 over stdio on earlier revisions (elicitation/create), and
 * clients that cannot ask (legacy HTTP, no capability) under each --confirm policy.
 */

const V = '2026-07-28';
type Answer = { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, string | number | boolean | string[]> };
const ACCEPT: Answer = { action: 'accept', content: { confirm: true } };

const sandboxed = adminSandboxEachTest(['--plan', 'pro']);

async function aKey(served: Served, name = 'Production backend'): Promise<string> {
  const created = await rest(served.url, 'POST', '/v1/api-keys', { key: sandboxed.admin, body: { name } });
  return (created.json as { id: string }).id;
}

async function keyState(served: Served, id: string): Promise<{ is_revoked: boolean; enabled: boolean; rotated_to: string | null }> {
  return (await rest(served.url, 'GET', `/v1/keys/${id}`, { key: sandboxed.admin })).json as { is_revoked: boolean; enabled: boolean; rotated_to: string | null };
}

/** What remains of the admin key's hour after this very call (which costs one). */
async function remaining(served: Served): Promise<number> {
  const me = await rest(served.url, 'GET', '/v1/me', { key: sandboxed.admin });
  return (me.json as { limits: { hourly: { remaining: number } } }).limits.hourly.remaining;
}

/** The SDK v2 client pinned to 2026-07-28 whose human answers every form with `answer`; the forms it was shown. */
async function modernClient(transport: HttpV2 | StdioV2, answer: Answer, url = false): Promise<{ client: ClientV2; asked: Array<Record<string, unknown>> }> {
  const client = new ClientV2(
    { name: 'dispersl-confirm-v2', version: '1.0.0' },
    { capabilities: { elicitation: { form: {}, ...(url && { url: {} }) } }, versionNegotiation: { mode: { pin: V } } },
  );
  const asked: Array<Record<string, unknown>> = [];
  client.setRequestHandler('elicitation/create', async (request) => {
    asked.push(request.params as Record<string, unknown>);
    return answer;
  });
  sandboxed.closers.push(() => client.close());
  await client.connect(transport);
  return { client, asked };
}

function v2Http(served: Served, key = sandboxed.admin): HttpV2 {
  return new HttpV2(new URL(`${served.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
}

async function result(client: ClientV2 | Client, name: string, args: Record<string, unknown>): Promise<{ ok: boolean; data: Record<string, unknown> }> {
  const answer = await client.callTool({ name, arguments: args });
  const text = (answer.content as Array<{ text: string }>)[0]?.text ?? '';
  if (answer.isError) return { ok: false, data: (JSON.parse(text) as { error: Record<string, unknown> }).error };
  return { ok: true, data: answer.structuredContent as Record<string, unknown> };
}

/** The SDK v1 client over stdio on an earlier revision, with or without the elicitation capability. */
async function legacyStdio(answer: Answer | undefined, env: Record<string, string> = {}): Promise<{ client: Client; asked: Array<Record<string, unknown>> }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN], env: sandboxed.box.env({ DISPERSL_API_KEY: sandboxed.admin, ...env }), stderr: 'ignore' });
  const client = new Client({ name: 'dispersl-confirm-v1', version: '1.0.0' }, { capabilities: answer === undefined ? {} : { elicitation: {} } });
  const asked: Array<Record<string, unknown>> = [];
  if (answer !== undefined) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params as Record<string, unknown>);
      return answer;
    });
  }
  sandboxed.closers.push(() => client.close());
  await client.connect(transport);
  return { client, asked };
}

describe('confirmation over 2026-07-28 (SDK v2 client, HTTP)', () => {
  it('revokes once the human accepts a form showing the key and what happens, charging one request', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client, asked } = await modernClient(v2Http(served), ACCEPT);
    const before = await remaining(served);
    const outcome = await result(client, 'revoke_key', { id });
    expect(outcome.ok).toBe(true);
    expect(outcome.data).toMatchObject({ id, is_revoked: true });
    expect(asked).toHaveLength(1);
    const message = String(asked[0]!.message);
    for (const part of ['"Production backend"', id, 'pk_live_', 'Environment: live', 'Last used: never', 'every request with it fails from now on']) {
      expect(message.toLowerCase()).toContain(part.toLowerCase());
    }
    expect(asked[0]!.requestedSchema).toMatchObject({ properties: { confirm: { type: 'boolean' } } });
    // Two rounds, one request: the revoke (the other one is the /v1/me that reads the count).
    expect(await remaining(served)).toBe(before - 2);
  });

  for (const action of ['decline', 'cancel'] as const) {
    it(`answers CONFIRMATION_DECLINED (409) and changes nothing when the human chooses ${action}`, async () => {
      const served = await serve(sandboxed.box);
      const id = await aKey(served);
      const { client } = await modernClient(v2Http(served), { action });
      const before = await remaining(served);
      const outcome = await result(client, 'revoke_key', { id });
      expect(outcome).toEqual({ ok: false, data: expect.objectContaining({ code: 409, type: 'CONFIRMATION_DECLINED' }) });
      // Asking and a declined answer cost nothing (the one is the /v1/me that reads the count).
      expect(await remaining(served)).toBe(before - 1);
      expect((await keyState(served, id)).is_revoked).toBe(false);
    });
  }

  it('treats an accepted form without the box ticked as declined', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client } = await modernClient(v2Http(served), { action: 'accept', content: { confirm: false } });
    expect((await result(client, 'rotate_key', { id })).data).toMatchObject({ type: 'CONFIRMATION_DECLINED' });
    expect((await keyState(served, id)).rotated_to).toBeNull();
  });

  it('asks before rotate_key and before update_key disables, but not before a rename', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client, asked } = await modernClient(v2Http(served), ACCEPT);
    expect((await result(client, 'update_key', { id, name: 'Renamed' })).ok).toBe(true);
    expect(asked).toHaveLength(0);
    expect((await result(client, 'update_key', { id, enabled: false })).data).toMatchObject({ enabled: false });
    expect(asked).toHaveLength(1);
    expect(String(asked[0]!.message)).toContain('until it is enabled again');
    const rotated = await result(client, 'rotate_key', { id, grace_period_seconds: 0 });
    expect(rotated.data).toMatchObject({ previous: { id, is_revoked: true }, secret: expect.stringMatching(/^pk_live_/) });
    expect(asked).toHaveLength(2);
  });

  it('does not ask about a call that fails anyway (unknown key, the calling key itself)', async () => {
    const served = await serve(sandboxed.box);
    const { client, asked } = await modernClient(v2Http(served), ACCEPT);
    expect((await result(client, 'revoke_key', { id: 'key_unknown1' })).data).toMatchObject({ type: 'NOT_FOUND' });
    const me = ((await rest(served.url, 'GET', '/v1/me', { key: sandboxed.admin })).json as { key: { id: string } }).key.id;
    expect((await result(client, 'revoke_key', { id: me })).data).toMatchObject({ type: 'CANNOT_REVOKE_SELF' });
    expect(asked).toHaveLength(0);
  });

  it('asks over stdio too', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client, asked } = await modernClient(new StdioV2({ command: process.execPath, args: [BIN], env: sandboxed.box.env({ DISPERSL_API_KEY: sandboxed.admin }), stderr: 'ignore' }), { action: 'decline' });
    expect((await result(client, 'revoke_key', { id })).data).toMatchObject({ type: 'CONFIRMATION_DECLINED' });
    expect(asked).toHaveLength(1);
    expect((await keyState(served, id)).is_revoked).toBe(false);
  });
});

describe('confirmation over stdio on earlier revisions (SDK v1 client)', () => {
  it('sends elicitation/create and revokes once the human accepts', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client, asked } = await legacyStdio(ACCEPT);
    expect((await result(client, 'revoke_key', { id })).data).toMatchObject({ id, is_revoked: true });
    expect(asked).toHaveLength(1);
    expect(String(asked[0]!.message)).toContain('Production backend');
  });

  it('answers CONFIRMATION_DECLINED and keeps the key when the human declines', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client } = await legacyStdio({ action: 'decline' });
    expect((await result(client, 'revoke_key', { id })).data).toMatchObject({ code: 409, type: 'CONFIRMATION_DECLINED' });
    expect((await keyState(served, id)).is_revoked).toBe(false);
  });

  it('proceeds without asking a client that did not declare elicitation (auto)', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client } = await legacyStdio(undefined);
    expect((await result(client, 'revoke_key', { id })).data).toMatchObject({ is_revoked: true });
  });

  it('hides revoke_key and rotate_key from a client that cannot ask, and refuses a disable, under --confirm required', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client } = await legacyStdio(undefined, { DISPERSL_CONFIRM: 'required' });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('revoke_key');
    expect(names).not.toContain('rotate_key');
    expect(names).toContain('update_key');
    expect((await result(client, 'update_key', { id, enabled: false })).data).toMatchObject({ code: 403, type: 'CONFIRMATION_REQUIRED' });
    expect((await result(client, 'revoke_key', { id })).data).toMatchObject({ code: 403, type: 'CONFIRMATION_REQUIRED' });
    expect((await keyState(served, id)).is_revoked).toBe(false);
  });

  it('never asks under --confirm off', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const { client, asked } = await legacyStdio({ action: 'decline' }, { DISPERSL_CONFIRM: 'off' });
    expect((await result(client, 'revoke_key', { id })).data).toMatchObject({ is_revoked: true });
    expect(asked).toHaveLength(0);
  });
});

describe('confirmation over stateless legacy HTTP', () => {
  it('cannot ask: proceeds under auto', async () => {
    const served = await serve(sandboxed.box);
    const id = await aKey(served);
    const client = await httpClient(`${served.url}/mcp`, sandboxed.admin);
    sandboxed.closers.push(() => client.close());
    expect((await tool(client, 'revoke_key', { id })).data).toMatchObject({ is_revoked: true });
  });

  it('hides and refuses under --confirm required, while a 2026-07-28 client with elicitation sees and uses them', async () => {
    const served = await serve(sandboxed.box, { args: ['--confirm', 'required'] });
    const id = await aKey(served);
    const legacy = await httpClient(`${served.url}/mcp`, sandboxed.admin);
    sandboxed.closers.push(() => legacy.close());
    expect((await legacy.listTools()).tools.map((t) => t.name)).not.toContain('revoke_key');
    expect((await tool(legacy, 'revoke_key', { id })).data).toMatchObject({ type: 'CONFIRMATION_REQUIRED' });
    const { client } = await modernClient(v2Http(served), ACCEPT);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('revoke_key');
    expect((await result(client, 'revoke_key', { id })).data).toMatchObject({ is_revoked: true });
  });

  it('never asks REST', async () => {
    const served = await serve(sandboxed.box, { args: ['--confirm', 'required'] });
    const id = await aKey(served);
    expect((await rest(served.url, 'DELETE', `/v1/keys/${id}`, { key: sandboxed.admin })).status).toBe(200);
  });
});
