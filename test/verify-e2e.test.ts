import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HttpAnswer, errorType, httpClient, rest, serve, stopAll, tool } from './helpers/http-serve.js';
import { type Sandbox, awayFromHourEdge, init, sandbox } from './helpers/sandbox.js';

/**
 * Real processes: two `serve` on one database file, the example agent API (examples/agent-api)
 * guarded by dispersl-mcp/verify in front of each, and the SDK client over MCP.
 */

const EXAMPLE = fileURLToPath(new URL('../examples/agent-api/server.js', import.meta.url));

let box: Sandbox;
const examples = new Set<ChildProcessWithoutNullStreams>();
beforeEach(() => {
  box = sandbox();
});
afterEach(async () => {
  for (const child of examples) child.kill('SIGKILL');
  examples.clear();
  await stopAll();
  box.remove();
});

async function agentApi(dispersl: string, verifierKey: string): Promise<string> {
  const child = spawn(process.execPath, [EXAMPLE], { env: { PATH: process.env.PATH, KEYS_URL: dispersl, VERIFIER_KEY: verifierKey, PORT: '0' }, stdio: 'pipe' });
  examples.add(child);
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent-api did not start:\n${stderr}`)), 15_000);
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      const url = /"url":"([^"]+)"/.exec(stderr)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.on('exit', (code) => reject(new Error(`agent-api exited with ${code}:\n${stderr}`)));
  });
}

async function createKey(base: string, admin: string, fields: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const answer = await rest(base, 'POST', '/v1/api-keys', { key: admin, body: { name: 'made by a test', ...fields } });
  if (answer.status !== 201) throw new Error(`could not create a key: ${answer.text}`);
  const body = answer.json as { id: string; secret_key: string };
  return { id: body.id, secret: body.secret_key };
}

const chat = (api: string, key: string, thinkMs = 0): Promise<HttpAnswer> =>
  rest(api, 'POST', `/v1/agent/chat${thinkMs ? `?think_ms=${thinkMs}` : ''}`, { key, body: { message: 'hello' } });

interface Verified {
  valid: boolean;
  type: string;
  lease: { id: string } | null;
}
const verify = async (base: string, verifier: string, body: Record<string, unknown>): Promise<Verified> => {
  const answer = await rest(base, 'POST', '/v1/keys/verify', { key: verifier, body });
  expect(answer.status).toBe(200);
  return answer.json as Verified;
};

describe('an API guarded by dispersl-mcp/verify, across two serve processes on one database', () => {
  it("answers 200 until a free key's 100th call and 429 with Retry-After on the 101st; usage and events tell what happened", async () => {
    await awayFromHourEdge(60_000);
    const admin = await init(box);
    const [a, b] = await Promise.all([serve(box), serve(box)]);
    const verifier = await createKey(a.url, admin.secret, { name: 'agent-api verifier', permissions: ['keys:verify'] });
    const user = await createKey(b.url, admin.secret, { name: 'end user', permissions: ['agent:chat'] });
    const [apiA, apiB] = await Promise.all([agentApi(a.url, verifier.secret), agentApi(`${b.url}/v1`, verifier.secret)]);

    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) statuses.push((await chat(i % 2 ? apiB : apiA, user.secret)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    const refused = await chat(apiB, user.secret);
    expect(refused.status).toBe(429);
    expect(errorType(refused)).toBe('RATE_LIMIT_EXCEEDED');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(refused.text).not.toContain(user.secret);
    // No key at all, and a mistyped one: the contract's 401.
    expect((await rest(apiA, 'POST', '/v1/agent/chat', { body: {} })).status).toBe(401);
    const mistyped = `${user.secret.slice(0, -1)}${user.secret.endsWith('x') ? 'y' : 'x'}`;
    expect(errorType(await chat(apiA, mistyped))).toBe('INVALID_API_KEY');

    // Revoked through MCP on one process, seen by verify on the other at the very next call.
    const mcp = await httpClient(`${b.url}/mcp`, admin.secret);
    expect((await tool(mcp, 'revoke_key', { id: user.id })).ok).toBe(true);
    await mcp.close();
    expect((await verify(a.url, verifier.secret, { key: user.secret, cost: 0 })).type).toBe('REVOKED_API_KEY');

    // Usage: 100 admitted, 1 refused by the quota (the 101st call), 1 denied (revoked).
    const usage = await rest(a.url, 'GET', `/v1/usage?key_id=${user.id}`, { key: admin.secret });
    expect((usage.json as { totals: unknown }).totals).toEqual({ admitted: 100, rate_limited: 1, denied: 1 });
    // The verifier itself was charged nothing for its verifications.
    const verifierUsage = await rest(a.url, 'GET', `/v1/usage?key_id=${verifier.id}`, { key: admin.secret });
    expect((verifierUsage.json as { totals: { admitted: number } }).totals.admitted).toBe(0);

    // Events: every change, with the key that made it, newest first.
    const events = (await rest(b.url, 'GET', '/v1/events', { key: admin.secret })).json as { events: Array<{ type: string; key_id: string; actor_key_id: string }> };
    expect(events.events.slice(0, 3).map((e) => [e.type, e.key_id, e.actor_key_id])).toEqual([
      ['key.revoked', user.id, admin.keyId],
      ['key.created', user.id, admin.keyId],
      ['key.created', verifier.id, admin.keyId],
    ]);
  });

  it('holds a free key to 2 concurrent calls across both processes; a released or expired lease lets the next one in, and a killed process frees its leases within 30 s', async () => {
    const admin = await init(box);
    const [a, b] = await Promise.all([serve(box), serve(box)]);
    const verifier = await createKey(a.url, admin.secret, { name: 'verifier', permissions: ['keys:verify'] });
    const user = await createKey(a.url, admin.secret, { name: 'end user', permissions: ['agent:chat'] });
    const [apiA, apiB] = await Promise.all([agentApi(a.url, verifier.secret), agentApi(b.url, verifier.secret)]);

    // Two slow chats, one through each process, hold both slots; the third is refused.
    const slowA = chat(apiA, user.secret, 2_000);
    const slowB = chat(apiB, user.secret, 2_000);
    await new Promise((r) => setTimeout(r, 700));
    const third = await chat(apiA, user.secret);
    expect(third.status).toBe(429);
    expect(errorType(third)).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    expect(third.headers.get('retry-after')).toBe('1');
    expect((await slowA).status).toBe(200);
    expect((await slowB).status).toBe(200);
    // The answers released their leases: the next call gets in.
    let next = await chat(apiB, user.secret);
    for (let i = 0; i < 20 && next.status === 429; i++) next = await new Promise((r) => setTimeout(r, 100)).then(() => chat(apiB, user.secret));
    expect(next.status).toBe(200);

    // Expiry: two short leases through a; the third is refused; after lease_ms the next one gets in.
    for (const base of [a.url, b.url]) expect((await verify(base, verifier.secret, { key: user.secret, hold: true, lease_ms: 1_500 })).type).toBe('VALID');
    expect((await verify(a.url, verifier.secret, { key: user.secret, hold: true })).type).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    await new Promise((r) => setTimeout(r, 1_600));
    const afterExpiry = await verify(b.url, verifier.secret, { key: user.secret, hold: true, lease_ms: 900_000 });
    expect(afterExpiry.type).toBe('VALID');
    // A released lease frees its slot at once, in the other process too.
    expect((await rest(b.url, 'POST', `/v1/leases/${afterExpiry.lease!.id}/release`, { key: verifier.secret })).status).toBe(200);

    // Process a takes both slots for 15 minutes, then dies without releasing them.
    for (let i = 0; i < 2; i++) expect((await verify(a.url, verifier.secret, { key: user.secret, hold: true, lease_ms: 900_000 })).type).toBe('VALID');
    expect((await verify(b.url, verifier.secret, { key: user.secret, hold: true })).type).toBe('CONCURRENCY_LIMIT_EXCEEDED');
    await a.stop('SIGKILL');
    const killedAt = Date.now();
    let freed: Verified | undefined;
    while (Date.now() - killedAt < 35_000) {
      const answer = await verify(b.url, verifier.secret, { key: user.secret, hold: true, cost: 0 });
      if (answer.valid) {
        freed = answer;
        break;
      }
        expect(answer.type).toBe('CONCURRENCY_LIMIT_EXCEEDED');
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(freed?.type).toBe('VALID');
    expect(Date.now() - killedAt).toBeLessThan(30_000);
  }, 90_000);
});
