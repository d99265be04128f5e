// Asking the human, in-process (app.request, no network): the server time of each round of a confirmed
// revoke (2026-07-28 multi round-trip) beside an unconfirmed one, and generate_key with secret delivery
// reveal beside inline.
import { join } from 'node:path';
import { Gate } from '../dist/core/auth.js';
import { createLogger } from '../dist/core/log.js';
import { Reveals } from '../dist/core/reveals.js';
import { KeyService } from '../dist/core/service.js';
import { createApp } from '../dist/http/app.js';
import { localDesk } from '../dist/mcp/deliver.js';
import { McpDispatcher } from '../dist/mcp/protocol.js';
import { RequestStates, storedRequestStateStore } from '../dist/mcp/request-state.js';
import { createToolRunner } from '../dist/mcp/run-tool.js';
import { SqliteStore } from '../dist/store/sqlite.js';
import { median, msText, quantile, ratio, seedDatabase, tempDir } from './lib.js';

const ROUNDS = 5;
const PER_ROUND = 200;
const V = '2026-07-28';
const ACCEPT = { confirm: { action: 'accept', content: { confirm: true } } };

function world(path) {
  const store = new SqliteStore(path);
  const gate = new Gate(store);
  const service = new KeyService(store);
  const logger = createLogger('silent');
  const reveals = new Reveals(store);
  const dispatcher = new McpDispatcher({ version: 'bench', logger, runner: async () => createToolRunner({ logger, reveals: localDesk(reveals) }) });
  const app = createApp({ gate, service, dispatcher, requestStates: new RequestStates(storedRequestStateStore(store)), logger, version: 'bench', reveals: { reveals, url: (c) => `http://x/reveal/${c}` } });
  return { store, gate, service, app };
}

async function timed(app, token, params, modern, elicitation = true) {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
  const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { ...params } };
  if (modern) {
    Object.assign(headers, { 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': params.name });
    body.params._meta = { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': elicitation ? { elicitation: {} } : {} };
  }
  const started = performance.now();
  const answer = await (await app.request('/mcp', { method: 'POST', headers, body: JSON.stringify(body) })).json();
  const ms = performance.now() - started;
  if (answer.error || answer.result?.isError) throw new Error(JSON.stringify(answer));
  return { ms, result: answer.result };
}

export default async function confirmBench({ log }) {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'confirm.db');
    const { token } = await seedDatabase(path);
    const w = world(path);
    const caller = await w.gate.peek({ token, ip: '127.0.0.1' });
    const targets = async (n) => {
      const ids = [];
      for (let i = 0; i < n; i++) ids.push((await w.service.execute('generateKey', caller, { name: `target ${i}` })).key.id);
      return ids;
    };
    const times = { plain: [], ask: [], answer: [], inline: [], reveal: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const ids = await targets(PER_ROUND * 2);
      for (let i = 0; i < PER_ROUND; i++) {
        // Unconfirmed: a client that cannot ask (no elicitation), one round.
        times.plain.push((await timed(w.app, token, { name: 'revoke_key', arguments: { id: ids[i] } }, true, false)).ms);
        const id = ids[PER_ROUND + i];
        const asked = await timed(w.app, token, { name: 'revoke_key', arguments: { id } }, true);
        times.ask.push(asked.ms);
        const done = await timed(w.app, token, { name: 'revoke_key', arguments: { id }, requestState: asked.result.requestState, inputResponses: ACCEPT }, true);
        times.answer.push(done.ms);
        times.inline.push((await timed(w.app, token, { name: 'generate_key', arguments: { name: 'inline' } }, true)).ms);
        times.reveal.push((await timed(w.app, token, { name: 'generate_key', arguments: { name: 'reveal', secret_delivery: 'reveal' } }, true)).ms);
      }
      log(`round ${round + 1}/${ROUNDS} done`);
    }
    await w.store.close();
    const row = (what, values, base) => ({
      call: what,
      p50: msText(median(values)),
      p90: msText(quantile(values, 0.9)),
      'vs baseline (p50)': base === undefined ? '—' : ratio(median(values) / median(base)),
    });
    return {
      title: 'Asking the human: confirmed revoke rounds, secret delivery by reveal (server time, in-process)',
      rows: [
        row('revoke_key, unconfirmed (baseline: a client that cannot ask)', times.plain),
        row('revoke_key confirmed, round 1: asks (peek, key read, requestState sealed)', times.ask, times.plain),
        row('revoke_key confirmed, round 2: the answer (requestState opened and used once, revoke)', times.answer, times.plain),
        row('revoke_key confirmed, both rounds', times.ask.map((t, i) => t + times.answer[i]), times.plain),
        row('generate_key, inline (baseline)', times.inline),
        row('generate_key, reveal (secret sealed, stored in the key’s transaction for one reveal)', times.reveal, times.inline),
      ],
      notes: [
        `${ROUNDS} rounds × ${PER_ROUND} calls of each, interleaved; createApp driven with app.request (no sockets), 2026-07-28 requests, a temp SQLite file (WAL).`,
        'A confirmed revoke adds one round trip: round 1 reads the key and seals the question, charging nothing; round 2 opens the state (one insert of its nonce) and revokes.',
        'With reveal the key and its sealed secret commit together (one transaction); what reveal adds is sealing (an HKDF-SHA256 key from the one-time code, AES-256-GCM) and the reveal row in that commit.',
        'Target: generate_key with reveal ≤ 1.2× inline.',
      ],
    };
  } finally {
    cleanup();
  }
}
