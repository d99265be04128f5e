import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.js';
import { FakeKeyApi } from '../testing/fake-api.js';
import type { Envelope } from './eras.js';
import { ModernDispatcher } from './modern.js';
import { InputRequired, McpDispatcher, type Round } from './protocol.js';
import { RequestStates, memoryRequestStateStore } from './request-state.js';

/**
 * The multi round-trip plumbing, with a runner that asks: no tool asks yet, so a stand-in does
 * what the confirmation tools will (ask once, then act on the answer).
 */
const rounds: Array<Round | undefined> = [];
const dispatcher = new McpDispatcher({
  version: '9.9.9',
  logger: silentLogger,
  runner: async () => async (_name, _api, _args, round) => {
    rounds.push(round);
    if (round === undefined) {
      return new InputRequired({ confirm: { method: 'elicitation/create', params: { mode: 'form', message: 'Revoke?', requestedSchema: { type: 'object', properties: {} } } } }, { asked: 'confirm' });
    }
    return { content: [{ type: 'text', text: JSON.stringify(round.inputResponses) }] };
  },
});
const modern = new ModernDispatcher({ dispatcher, states: new RequestStates(memoryRequestStateStore()), logger: silentLogger });
const context = (principal = 'key_a') => ({ api: new FakeKeyApi(async () => ({ ok: true })), readOnly: false, principal });
const withElicitation: Envelope = { version: '2026-07-28', capabilities: { elicitation: {} } };

async function call(params: Record<string, unknown>, envelope = withElicitation, principal?: string) {
  return modern.handle({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'revoke_key', arguments: { id: 'key_b' }, ...params } }, envelope, context(principal));
}

describe('multi round-trip requests (2026-07-28)', () => {
  it('answers input_required with a sealed state, then hands the tool its state and the answers', async () => {
    rounds.length = 0;
    const first = await call({});
    const result = first.response && 'result' in first.response ? first.response.result : undefined;
    expect(result).toMatchObject({ resultType: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } }, requestState: expect.any(String) });
    const second = await call({ requestState: result!.requestState, inputResponses: { confirm: { action: 'accept', content: {} } } });
    expect(second.response && 'result' in second.response && second.response.result).toMatchObject({ resultType: 'complete' });
    expect(rounds).toEqual([undefined, { state: { asked: 'confirm' }, inputResponses: { confirm: { action: 'accept', content: {} } } }]);
  });

  it('refuses a replayed state, another key\'s, or one for other arguments, without running the tool', async () => {
    const first = await call({});
    const state = (first.response as unknown as { result: { requestState: string } }).result.requestState;
    rounds.length = 0;
    const foreign = await call({ requestState: state, inputResponses: {} }, withElicitation, 'key_other');
    expect(foreign.response).toMatchObject({ id: 1, error: { code: -32602, data: { type: 'INVALID_REQUEST' } } });
    const otherArgs = await call({ arguments: { id: 'key_c' }, requestState: state, inputResponses: {} });
    expect(otherArgs.response).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/another key, tool or arguments/) } });
    expect((await call({ requestState: state, inputResponses: {} })).response).toMatchObject({ result: { resultType: 'complete' } });
    const replay = await call({ requestState: state, inputResponses: {} });
    expect(replay.response).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/already used/) } });
    expect(rounds.length).toBe(1);
  });

  it('answers -32021 (HTTP 400) when the client did not declare the capability a question needs', async () => {
    const answer = await call({}, { version: '2026-07-28', capabilities: {} });
    expect(answer.status).toBe(400);
    expect(answer.response).toMatchObject({ id: 1, error: { code: -32021, data: { requiredCapabilities: { elicitation: {} } } } });
  });

  it('refuses the question over an earlier revision, which cannot ask', async () => {
    const answer = await dispatcher.handle({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'revoke_key', arguments: { id: 'key_b' } } }, context());
    expect(answer).toMatchObject({ id: 3, error: { code: -32600 } });
  });
});
