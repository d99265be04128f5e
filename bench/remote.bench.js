// Remote mode's cost: a tools/call through a remote-mode stdio server against the same REST call made
// directly over HTTP, both to one `dispersl-mcp serve` on loopback.
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CLI, int, median, msText, quantile, seedDatabase, tempDir } from './lib.js';

const ROUNDS = 5;
const ROUND_MS = 600;
const WARM_UP_CALLS = 300;
const EXTRA_KEYS = 24;

/** `serve --port 0` on db; resolves with its origin once it logs it. */
function startServe(db, env) {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    env: { ...env, DISPERSL_DB: db, DISPERSL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${stderr}`)));
    child.stderr.setEncoding('utf8').on('data', function onData(chunk) {
      stderr += chunk;
      const origin = /"url":"([^"]+)"/.exec(stderr)?.[1];
      if (!origin) return;
      clearTimeout(timer);
      child.stderr.off('data', onData);
      child.stderr.resume(); // keep draining: the server logs a line per request
      resolve({ origin, child });
    });
  });
}

/** A stdio MCP server driven line by line, as an IDE drives it: one JSON-RPC message per line each way. */
function startStdio(env) {
  const child = spawn(process.execPath, [CLI], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const waiting = new Map();
  let buffer = '';
  let nextId = 1;
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const message = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      waiting.get(message.id)?.(message);
      waiting.delete(message.id);
    }
  });
  const rpc = (method, params) =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, ...(params && { params }) })}\n`);
    });
  return { child, rpc };
}

async function sequential(call, ms) {
  const latencies = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    await call();
    latencies.push(performance.now() - t0);
  }
  return latencies;
}

export default async function remoteBench({ log }) {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'dispersl.db');
  const { token } = await seedDatabase(db, { extraKeys: EXTRA_KEYS });
  const env = { PATH: process.env.PATH, HOME: dir };
  const { origin, child: server } = await startServe(db, env);
  const base = `${origin}/v1`;
  const stdio = startStdio({ ...env, DISPERSL_BASE_URL: base, DISPERSL_API_KEY: token, DISPERSL_DB: join(dir, 'never.db'), DISPERSL_LOG_LEVEL: 'info' });
  const agent = new Agent({ keepAlive: true });
  const auth = { authorization: `Bearer ${token}` };

  const viaFetch = (path) => async () => {
    const res = await fetch(`${base}${path}`, { headers: auth });
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    await res.json();
  };
  const viaHttp = (path) => () =>
    new Promise((resolve, reject) => {
      request(`${base}${path}`, { agent, headers: auth }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c) => (text += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`${path}: HTTP ${res.statusCode}`))));
      })
        .on('error', reject)
        .end();
    });
  const viaRemote = (name, args) => async () => {
    const answer = await stdio.rpc('tools/call', { name, arguments: args });
    if (answer.error || answer.result.isError) throw new Error(`${name} failed: ${JSON.stringify(answer).slice(0, 300)}`);
  };

  try {
    await stdio.rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } });
    stdio.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    const contenders = [
      { group: 'whoami', kind: 'fetch', name: 'direct: fetch GET /v1/me (keep-alive)', call: viaFetch('/me') },
      { group: 'whoami', kind: 'http', name: 'direct: node:http GET /v1/me (keep-alive agent)', call: viaHttp('/me') },
      { group: 'whoami', kind: 'remote', name: 'remote mode: tools/call whoami over stdio', call: viaRemote('whoami', {}) },
      { group: 'list', kind: 'fetch', name: 'direct: fetch GET /v1/keys (keep-alive)', call: viaFetch('/keys') },
      { group: 'list', kind: 'http', name: 'direct: node:http GET /v1/keys (keep-alive agent)', call: viaHttp('/keys') },
      { group: 'list', kind: 'remote', name: `remote mode: tools/call list_keys over stdio (page of 20 of ${EXTRA_KEYS + 1})`, call: viaRemote('list_keys', {}) },
      { group: 'floor', kind: 'floor', name: 'floor: ping over stdio (pipe round trip)', call: () => stdio.rpc('ping') },
    ];
    for (const c of contenders) {
      c.latencies = [];
      c.rounds = [];
      for (let i = 0; i < WARM_UP_CALLS; i++) await c.call();
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of contenders) {
        const latencies = await sequential(c.call, ROUND_MS);
        c.latencies.push(...latencies);
        c.rounds.push(median(latencies));
      }
      log(`round ${round + 1}/${ROUNDS} done`);
    }

    const p50 = (c) => median(c.latencies);
    const find = (group, kind) => contenders.find((c) => c.group === group && c.kind === kind);
    const addedOver = (c, kind) => {
      const direct = find(c.group, kind);
      if (c.kind !== 'remote' || !direct) return '—';
      const us = Math.round((p50(c) - p50(direct)) * 1000);
      return `${us >= 0 ? '+' : ''}${us} µs`;
    };
    const rows = contenders.map((c) => ({
      request: c.name,
      calls: int(c.latencies.length),
      p50: msText(p50(c)),
      p99: msText(quantile(c.latencies, 0.99)),
      'p50 range over rounds': `${msText(Math.min(...c.rounds))} – ${msText(Math.max(...c.rounds))}`,
      'added p50 vs fetch': addedOver(c, 'fetch'),
      'added p50 vs node:http': addedOver(c, 'http'),
    }));
    const worst = Math.max(...['whoami', 'list'].map((g) => p50(find(g, 'remote')) - Math.min(p50(find(g, 'fetch')), p50(find(g, 'http')))));
    return {
      title: 'Remote mode: tools/call over stdio vs the same REST call made directly',
      rows,
      notes: [
        `One \`dispersl-mcp serve\` on 127.0.0.1 (temp database, enterprise organization whose quota never runs out, ${EXTRA_KEYS + 1} keys, logging a line per request at the default level). Every request, direct or remote, is one charged REST request to it.`,
        '"direct" calls the REST route from this process: global fetch (undici, which keeps connections alive) and node:http with a keep-alive Agent. "remote mode" sends tools/call as JSON-RPC lines to a `dispersl-mcp` stdio process started with DISPERSL_BASE_URL, which calls the same route over its own kept-alive connection and maps the answer to the MCP result (structuredContent plus text). So the added time is the stdio hop, MCP framing, the result schema check and the mapping.',
        `Largest added p50 of remote mode over the faster of the two direct calls: ${Math.round(worst * 1000)} µs (target: under 1 ms on loopback). Remote mode's own client is node:http with a keep-alive Agent, which is why it can beat a direct fetch.`,
        `${ROUNDS} alternating rounds of ${ROUND_MS} ms per contender after ${WARM_UP_CALLS} warm-up calls each, one call in flight at a time; p50/p99 over all rounds, and the range of the per-round medians, which shows how much load from elsewhere moved the figures.`,
      ],
    };
  } finally {
    agent.destroy();
    stdio.child.stdin.end();
    server.kill('SIGTERM');
    await new Promise((resolve) => (server.exitCode !== null ? resolve() : server.once('exit', resolve)));
    cleanup();
  }
}
