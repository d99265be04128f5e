import { readFileSync, existsSync } from 'node:fs';
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { type Served, adminSandboxEachTest, httpClient, raw, rest, serve } from './helpers/http-serve.js';
import { BIN, runCli } from './helpers/sandbox.js';

/**
 * Secret delivery by reveal: the model reads no secret (neither text nor structuredContent), the user
 * sees it once on a page or in a terminal, and no log line, database page or WAL frame ever holds it.
 */

const V = '2026-07-28';
const TOKEN = /pk_(?:live|test)_[0-9A-Za-z]{20,}/;

const sandboxed = adminSandboxEachTest(['--plan', 'pro']);

interface Seen {
  /** The whole result as the model reads it: text and structuredContent. */
  text: string;
  data: Record<string, unknown>;
  isError: boolean;
}

async function call(client: Client | ClientV2, name: string, args: Record<string, unknown>): Promise<Seen> {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as Array<{ text: string }>).map((c) => c.text).join('\n');
  const data = result.isError ? (JSON.parse(text) as { error: Record<string, unknown> }).error : (result.structuredContent as Record<string, unknown>);
  return { text: `${text}\n${JSON.stringify(result.structuredContent ?? {})}`, data, isError: result.isError === true };
}

function codeOf(command: string): string {
  const match = /^npx dispersl-mcp reveal ([A-Za-z0-9_-]{22})$/.exec(command);
  expect(match, command).not.toBeNull();
  return match![1]!;
}

async function stdioClient(env: Record<string, string>, elicit?: (params: Record<string, unknown>) => Record<string, unknown>): Promise<{ client: Client; stderr(): string }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN], env: sandboxed.box.env({ DISPERSL_API_KEY: sandboxed.admin, ...env }), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'dispersl-reveal-v1', version: '1.0.0' }, { capabilities: elicit ? { elicitation: {} } : {} });
  if (elicit) client.setRequestHandler(ElicitRequestSchema, async (request) => elicit(request.params as Record<string, unknown>) as never);
  sandboxed.closers.push(() => client.close());
  await client.connect(transport);
  return { client, stderr: () => stderr };
}

/** Every byte SQLite keeps on disk for the sandbox's database: the file, its WAL and shared memory. */
function databaseBytes(): string {
  return ['', '-wal', '-shm']
    .map((suffix) => `${sandboxed.box.db}${suffix}`)
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path).toString('latin1'))
    .join('');
}

describe('the reveal page', () => {
  it('shows a generated secret once, behind a button, never cached, then answers 410', async () => {
    const served = await serve(sandboxed.box, { args: ['--secret-delivery', 'reveal'] });
    const client = await httpClient(`${served.url}/mcp`, sandboxed.admin);
    sandboxed.closers.push(() => client.close());
    const seen = await call(client, 'generate_key', { name: 'CI' });
    expect(seen.isError).toBe(false);
    expect(seen.text).not.toMatch(TOKEN);
    expect(seen.data.secret).toBeUndefined();
    const reveal = seen.data.reveal as { url: string; command: string; expires_at: string };
    expect(reveal.url).toMatch(new RegExp(`^${served.url}/reveal/[A-Za-z0-9_-]{22}$`));
    expect(codeOf(reveal.command)).toBe(reveal.url.split('/').pop());
    expect(Date.parse(reveal.expires_at) - Date.now()).toBeGreaterThan(9 * 60_000);

    const path = new URL(reveal.url).pathname;
    const page = await raw(served.url, 'GET', path, {});
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(page.text).toContain('<form method="post">');
    expect(page.text).not.toMatch(TOKEN);

    const shown = await raw(served.url, 'POST', path, {});
    expect(shown.status).toBe(200);
    expect(shown.headers.get('cache-control')).toBe('no-store');
    expect(shown.headers.get('content-security-policy')).toMatch(/script-src|default-src 'none'/);
    const secret = TOKEN.exec(shown.text)?.[0];
    expect(secret).toBeDefined();
    expect((await rest(served.url, 'GET', '/v1/me', { key: secret })).json).toMatchObject({ key: { id: (seen.data.key as { id: string }).id } });

    expect((await raw(served.url, 'POST', path, {})).status).toBe(410);
    expect((await raw(served.url, 'GET', path, {})).status).toBe(410);

    // Neither the secret nor the code in any log line, database page or WAL frame.
    const code = codeOf(reveal.command);
    await served.stop();
    expect(served.stderr()).not.toContain(secret!);
    expect(served.stderr()).not.toContain(code);
    expect(served.stderr()).toContain('/reveal/[redacted]');
    const bytes = databaseBytes();
    expect(bytes).not.toContain(secret!);
    expect(bytes).not.toContain(code);
  });

  it('limits unknown codes per address', async () => {
    const served = await serve(sandboxed.box, { args: ['--secret-delivery', 'reveal'] });
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await raw(served.url, 'POST', `/reveal/${'A'.repeat(21)}${String.fromCharCode(65 + i)}`, {})).status);
    expect(statuses.slice(0, 20).every((s) => s === 410)).toBe(true);
    expect(statuses[20]).toBe(429);
  });
});

describe('the reveal command', () => {
  it('prints a secret rotated over stdio once, and refuses the code after; the secret never reached the model, the logs or the disk', async () => {
    const served = await serve(sandboxed.box);
    const id = ((await rest(served.url, 'POST', '/v1/api-keys', { key: sandboxed.admin, body: { name: 'worker' } })).json as { id: string }).id;
    const { client, stderr } = await stdioClient({ DISPERSL_SECRET_DELIVERY: 'reveal' });
    const seen = await call(client, 'rotate_key', { id });
    expect(seen.isError).toBe(false);
    expect(seen.text).not.toMatch(TOKEN);
    const reveal = seen.data.reveal as { url?: string; command: string };
    // No serve is named for this database (DISPERSL_PUBLIC_URL), so there is no page: the terminal it is.
    expect(reveal.url).toBeUndefined();
    const code = codeOf(reveal.command);

    const first = await runCli(['reveal', code], sandboxed.box.env());
    expect(first.code).toBe(0);
    const secret = first.stdout.trim();
    expect(secret).toMatch(new RegExp(`^${TOKEN.source}$`));
    expect((await rest(served.url, 'GET', '/v1/me', { key: secret })).json).toMatchObject({ key: { rotated_from: id } });
    const again = await runCli(['reveal', code], sandboxed.box.env());
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/unknown, already used or expired/);

    await client.close();
    await served.stop();
    for (const text of [stderr(), served.stderr(), first.stderr, databaseBytes()]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(code);
    }
  });

  it('lets a call ask for reveal on an inline server, and refuses inline on a reveal server', async () => {
    const { client } = await stdioClient({});
    const stricter = await call(client, 'generate_key', { name: 'asked reveal', secret_delivery: 'reveal' });
    expect(stricter.text).not.toMatch(TOKEN);
    expect(stricter.data.reveal).toMatchObject({ command: expect.stringMatching(/^npx dispersl-mcp reveal /) });
    expect((await call(client, 'generate_key', { name: 'inline' })).data.secret).toMatch(TOKEN);
    await client.close();

    const { client: strict } = await stdioClient({ DISPERSL_SECRET_DELIVERY: 'reveal' });
    const refused = await call(strict, 'generate_key', { name: 'asked inline', secret_delivery: 'inline' });
    expect(refused.data).toMatchObject({ type: 'INVALID_REQUEST', details: { issues: [{ path: 'secret_delivery' }] } });
  });
});

describe('URL elicitation (2026-07-28)', () => {
  it('hands the link to the client for the user, and the result the model reads holds no code at all', async () => {
    const served = await serve(sandboxed.box, { args: ['--secret-delivery', 'reveal'] });
    const client = new ClientV2({ name: 'dispersl-reveal-v2', version: '1.0.0' }, { capabilities: { elicitation: { form: {}, url: {} } }, versionNegotiation: { mode: { pin: V } } });
    const shown: Array<Record<string, unknown>> = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      shown.push(request.params as Record<string, unknown>);
      return { action: 'accept' };
    });
    sandboxed.closers.push(() => client.close());
    await client.connect(new HttpV2(new URL(`${served.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${sandboxed.admin}` } } }));

    const seen = await call(client, 'generate_key', { name: 'via url elicitation' });
    expect(seen.isError).toBe(false);
    expect(seen.data.reveal).toEqual({ expires_at: expect.any(String), delivered: 'url_elicitation' });
    expect(seen.text).not.toMatch(TOKEN);
    expect(seen.text).not.toMatch(/reveal\/|dispersl-mcp reveal/);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({ mode: 'url', url: expect.stringMatching(new RegExp(`^${served.url}/reveal/`)) });
    const page = await raw(served.url, 'POST', new URL(String(shown[0]!.url)).pathname, {});
    expect(page.text).toMatch(TOKEN);
  });
});

describe('remote mode', () => {
  it('asks the human before a revoke and delivers a rotated secret by reveal through its server', async () => {
    const served = await serve(sandboxed.box);
    const id = ((await rest(served.url, 'POST', '/v1/api-keys', { key: sandboxed.admin, body: { name: 'remote target' } })).json as { id: string }).id;
    const remote = { DISPERSL_BASE_URL: `${served.url}/v1`, DISPERSL_DB: `${sandboxed.box.dir}/untouched.db`, DISPERSL_SECRET_DELIVERY: 'reveal' };
    const asked: Array<Record<string, unknown>> = [];
    const { client } = await stdioClient(remote, (params) => (asked.push(params), { action: 'accept', content: { confirm: true } }));

    const rotated = await call(client, 'rotate_key', { id, grace_period_seconds: 0 });
    expect(rotated.isError).toBe(false);
    expect(asked).toHaveLength(1);
    expect(String(asked[0]!.message)).toContain('remote target');
    expect(rotated.text).not.toMatch(TOKEN);
    const reveal = rotated.data.reveal as { url: string; command: string };
    expect(reveal.url).toMatch(new RegExp(`^${served.url}/reveal/`));

    const printed = await runCli(['reveal', codeOf(reveal.command)], sandboxed.box.env({ DISPERSL_BASE_URL: `${served.url}/v1`, DISPERSL_DB: `${sandboxed.box.dir}/untouched.db` }));
    expect(printed.code).toBe(0);
    const secret = printed.stdout.trim();
    expect((await rest(served.url, 'GET', '/v1/me', { key: secret })).json).toMatchObject({ key: { rotated_from: id } });
    expect((await raw(served.url, 'GET', new URL(reveal.url).pathname, {})).status).toBe(410);

    const next = (rotated.data.key as { id: string }).id;
    const revoked = await call(client, 'revoke_key', { id: next });
    expect(revoked.data).toMatchObject({ id: next, is_revoked: true });
    expect(asked).toHaveLength(2);
  });

  it('refuses to keep for reveal anything but a key of the caller organization', async () => {
    const served = await serve(sandboxed.box);
    const refused = await rest(served.url, 'POST', '/v1/reveals', { key: sandboxed.admin, body: { secret: 'pk_live_notakeyofthisorganization0000000' } });
    expect(refused.status).toBe(400);
  });
});
