import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/core/log.js';
import { createApp } from '../src/http/app.js';
import { McpDispatcher } from '../src/mcp/protocol.js';
import { RequestStates, storedRequestStateStore } from '../src/mcp/request-state.js';
import { createToolRunner } from '../src/mcp/run-tool.js';
import { type World, createWorld } from '../src/testing/fixtures.js';
import { type Served, rest, serve, stopAll } from './helpers/http-serve.js';
import { type Sandbox, init, sandbox } from './helpers/sandbox.js';

/**
 * A confirmation's requestState is sealed, bound to the calling key, the tool and its arguments,
 * valid five minutes and accepted once, across processes: every other use answers INVALID_REQUEST
 * and does nothing.
 */

const V = '2026-07-28';
const META = { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } };
const ACCEPT = { confirm: { action: 'accept', content: { confirm: true } } };
const DECLINE = { confirm: { action: 'decline' } };

type Rpc = { result?: Record<string, unknown>; error?: { code: number; message: string; data?: Record<string, unknown> } };
type Send = (key: string, params: Record<string, unknown>) => Promise<Rpc>;

function body(params: Record<string, unknown>) {
  return JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { _meta: META, ...params } });
}

function headers(key: string, name: string): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': name };
}

/** What every refused state must look like: the contract's INVALID_REQUEST inside JSON-RPC invalid params. */
function expectRefused(answer: Rpc, why: RegExp): void {
  expect(answer.result).toBeUndefined();
  expect(answer.error).toMatchObject({ code: -32602, message: expect.stringMatching(why), data: { type: 'INVALID_REQUEST', code: 400 } });
}

async function askFirst(send: Send, key: string, args: Record<string, unknown>): Promise<string> {
  const first = await send(key, { name: 'revoke_key', arguments: args });
  expect(first.result).toMatchObject({ resultType: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
  return first.result!.requestState as string;
}

describe('requestState of a confirmation, in process', () => {
  let w: World;
  let send: Send;
  let target: string;
  let other: string;

  beforeEach(async () => {
    w = await createWorld({ plan: 'pro' });
    const logger = createLogger('silent');
    const dispatcher = new McpDispatcher({ version: 'test', logger, runner: async () => createToolRunner({ logger }) });
    const requestStates = new RequestStates(storedRequestStateStore(w.store), w.clock.read);
    const app = createApp({ gate: w.gate, service: w.service, dispatcher, requestStates, logger, version: 'test', clock: w.clock.read });
    send = async (key, params) => (await (await app.request('/mcp', { method: 'POST', headers: headers(key, String(params.name)), body: body(params) })).json()) as Rpc;
    const admin = await w.callerOf(w.tenant.adminSecret);
    target = (await w.service.execute('generateKey', admin, { name: 'target' })).key.id;
    other = (await w.service.execute('generateKey', admin, { name: 'another admin', permissions: ['admin'] })).secret;
  });
  afterEach(async () => {
    await w.store.close();
  });

  const revoked = async () => (await w.service.execute('getKey', await w.callerOf(w.tenant.adminSecret), { id: target })).is_revoked;

  it("revokes with an untouched state and the human's yes", async () => {
    const state = await askFirst(send, w.tenant.adminSecret, { id: target });
    const done = await send(w.tenant.adminSecret, { name: 'revoke_key', arguments: { id: target }, requestState: state, inputResponses: ACCEPT });
    expect(done.result).toMatchObject({ resultType: 'complete', structuredContent: { id: target, is_revoked: true } });
  });

  it('refuses a tampered state', async () => {
    const state = await askFirst(send, w.tenant.adminSecret, { id: target });
    const flipped = `${state.slice(0, 20)}${state[20] === 'A' ? 'B' : 'A'}${state.slice(21)}`;
    expectRefused(await send(w.tenant.adminSecret, { name: 'revoke_key', arguments: { id: target }, requestState: flipped, inputResponses: ACCEPT }), /not one this server issued/);
    expect(await revoked()).toBe(false);
  });

  it('refuses a state used once already, even after a decline', async () => {
    const state = await askFirst(send, w.tenant.adminSecret, { id: target });
    const declined = await send(w.tenant.adminSecret, { name: 'revoke_key', arguments: { id: target }, requestState: state, inputResponses: DECLINE });
    expect(declined.result).toMatchObject({ isError: true });
    expectRefused(await send(w.tenant.adminSecret, { name: 'revoke_key', arguments: { id: target }, requestState: state, inputResponses: ACCEPT }), /already used/);
    expect(await revoked()).toBe(false);
  });

  it('refuses a state past its five minutes', async () => {
    const state = await askFirst(send, w.tenant.adminSecret, { id: target });
    w.clock.advance(5 * 60_000 + 1);
    expectRefused(await send(w.tenant.adminSecret, { name: 'revoke_key', arguments: { id: target }, requestState: state, inputResponses: ACCEPT }), /expired/);
    expect(await revoked()).toBe(false);
  });

  it('refuses a state used by another key, or for other arguments', async () => {
    const state = await askFirst(send, w.tenant.adminSecret, { id: target });
    expectRefused(await send(other, { name: 'revoke_key', arguments: { id: target }, requestState: state, inputResponses: ACCEPT }), /another key/);
    const second = await askFirst(send, w.tenant.adminSecret, { id: target });
    const victim = (await w.service.execute('generateKey', await w.callerOf(w.tenant.adminSecret), { name: 'victim' })).key.id;
    expectRefused(await send(w.tenant.adminSecret, { name: 'revoke_key', arguments: { id: victim }, requestState: second, inputResponses: ACCEPT }), /another key, tool or arguments/);
    expect(await revoked()).toBe(false);
  });
});

describe('requestState of a confirmation, across processes', () => {
  let box: Sandbox;
  let admin: string;
  beforeEach(async () => {
    box = sandbox();
    admin = (await init(box, ['--plan', 'pro'])).secret;
  });
  afterEach(async () => {
    await stopAll();
    box.remove();
  });

  const over = (served: Served): Send => async (key, params) =>
    (await (await fetch(`${served.url}/mcp`, { method: 'POST', headers: headers(key, String(params.name)), body: body(params) })).json()) as Rpc;

  it('accepts a state issued by one serve at another on the same database, once', async () => {
    const [a, b] = await Promise.all([serve(box), serve(box)]);
    const id = ((await rest(a.url, 'POST', '/v1/api-keys', { key: admin, body: { name: 'shared' } })).json as { id: string }).id;
    const state = await askFirst(over(a), admin, { id });
    const declined = await over(a)(admin, { name: 'revoke_key', arguments: { id }, requestState: state, inputResponses: DECLINE });
    expect(declined.result).toMatchObject({ isError: true });
    expectRefused(await over(b)(admin, { name: 'revoke_key', arguments: { id }, requestState: state, inputResponses: ACCEPT }), /already used/);
    expect(((await rest(b.url, 'GET', `/v1/keys/${id}`, { key: admin })).json as { is_revoked: boolean }).is_revoked).toBe(false);

    const fresh = await askFirst(over(a), admin, { id });
    const done = await over(b)(admin, { name: 'revoke_key', arguments: { id }, requestState: fresh, inputResponses: ACCEPT });
    expect(done.result).toMatchObject({ structuredContent: { is_revoked: true } });
  });
});
