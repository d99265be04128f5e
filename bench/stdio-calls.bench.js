// Sequential MCP calls over stdio, driven by the SDK Client as an IDE would drive the server.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ListToolsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { CLI, int, median, msText, quantile, ratio, seedDatabase, tempDir } from './lib.js';

const ROUNDS = 3;
const ROUND_MS = 700;
const WARM_UP_CALLS = 200;
const EXTRA_KEYS = 24;

async function sequential(call, ms) {
  const latencies = [];
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    await call();
    latencies.push(performance.now() - t0);
  }
  return { latencies, elapsed: performance.now() - start };
}

function toolCall(client, name, args) {
  return async () => {
    const result = await client.callTool({ name, arguments: args });
    if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content).slice(0, 300)}`);
  };
}

export default async function stdioCallsBench({ log }) {
  const { dir, cleanup } = tempDir();
  const db = join(dir, 'dispersl.db');
  const { token } = await seedDatabase(db, { extraKeys: EXTRA_KEYS });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI],
    // The default log level (info: one line per tool call on stderr), as users run it; stderr itself is discarded.
    env: { ...process.env, DISPERSL_API_KEY: token, DISPERSL_DB: db, DISPERSL_LOG_LEVEL: 'info' },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'dispersl-bench', version: '0' });
  try {
    await client.connect(transport);
    const { tools } = await client.listTools(); // as a client does; it also turns on output-schema validation
    if (!tools.some((t) => t.name === 'list_keys')) throw new Error('list_keys is not listed');

    const contenders = [
      { name: 'baseline: ping (round trip, no key check)', call: () => client.ping() },
      // client.request, not listTools: listTools recompiles every output schema on the client each time.
      { name: 'tools/list (key checked, not charged)', call: () => client.request({ method: 'tools/list' }, ListToolsResultSchema) },
      { name: 'tools/call whoami', call: toolCall(client, 'whoami', {}) },
      { name: `tools/call list_keys (page of 20 of ${EXTRA_KEYS + 1})`, call: toolCall(client, 'list_keys', {}) },
    ];
    for (const c of contenders) {
      c.runs = [];
      for (let i = 0; i < WARM_UP_CALLS; i++) await c.call();
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of contenders) c.runs.push(await sequential(c.call, ROUND_MS));
      log(`round ${round + 1}/${ROUNDS} done`);
    }

    const rateOf = (c) => median(c.runs.map((r) => (r.latencies.length * 1000) / r.elapsed));
    const base = rateOf(contenders[0]);
    return {
      title: 'stdio: sequential calls through the SDK Client',
      rows: contenders.map((c) => {
        const latencies = c.runs.flatMap((r) => r.latencies);
        return {
          request: c.name,
          calls: int(latencies.length),
          'calls/s': int(rateOf(c)),
          'vs ping': ratio(rateOf(c) / base),
          p50: msText(median(latencies)),
          p99: msText(quantile(latencies, 0.99)),
        };
      }),
      notes: [
        `One \`node dist/cli/main.js\` (stdio, local mode) spawned by the SDK's StdioClientTransport, on a temp database holding an enterprise organization (quota never runs out) with ${EXTRA_KEYS + 1} keys, logging at the default level. One call in flight at a time, as a model's tool calls are.`,
        `Each tools/call passes the gate (one charged request, committed before the answer), validates its input and output with zod, and the Client validates structuredContent against the tool's outputSchema. ping is the floor: the JSON-RPC round trip over the pipes.`,
        `${ROUNDS} alternating rounds of ${ROUND_MS} ms per request after ${WARM_UP_CALLS} warm-up calls each; calls/s is the median round, latencies are over all rounds.`,
      ],
    };
  } finally {
    await client.close().catch(() => undefined);
    cleanup();
  }
}
