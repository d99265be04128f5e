// MCP tools/call whoami over Streamable HTTP: our stateless endpoint (one process-wide dispatcher,
// the caller a per-request context) against the MCP SDK's stateless recipe (a new McpServer and
// transport per request) doing the same work on the same database, driven by wrk from a second
// process, in alternating rounds of one run.
import { join } from 'node:path';
import { int, median, ratio, seedDatabase, tempDir } from './lib.js';
import { postScript, requireWrk, roundRatios, startScript, startServe, stop, wrkRounds, wrkRow } from './http-lib.js';

const ROUNDS = 4;
const SECONDS = 3;
const CONNECTIONS = 50;
const TARGET_RPS = 10_000;
const TARGET_RATIO = 5;
const TARGET_P99 = 20;

export default async function httpMcpBench({ log }) {
  requireWrk();
  const { dir, cleanup } = tempDir();
  const servers = [];
  try {
    const dbPath = join(dir, 'bench.db');
    const { token } = await seedDatabase(dbPath);
    const ours = await startServe(dbPath, dir);
    const logged = await startServe(dbPath, dir, { logLevel: 'info' });
    const sdk = await startScript('http-baseline-sdk.js', { DISPERSL_DB: dbPath }, '/mcp');
    servers.push(ours, logged, sdk);
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    // The SDK's transport wants both media types in Accept; ours reads neither.
    const script = postScript(dir, 'whoami', body, { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream' });
    for (const s of servers) {
      const answer = await fetch(`${s.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(body),
      }).then((r) => r.json());
      if (answer.result?.structuredContent?.key === undefined) throw new Error(`whoami failed: ${JSON.stringify(answer).slice(0, 300)}`);
    }

    const contenders = [
      { label: 'baseline: SDK stateless recipe (McpServer + transport per request)', url: `${sdk.url}/mcp` },
      { label: 'ours: POST /mcp (access log off)', url: `${ours.url}/mcp` },
      { label: 'ours: POST /mcp (JSON access log on, to /dev/null)', url: `${logged.url}/mcp` },
    ];
    const samples = await wrkRounds(
      contenders.map((c) => ({ ...c, script })),
      { connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, log },
    );
    const rows = contenders.map((c, i) => ({
      ...wrkRow(c.label, samples[i], { rate: 'calls/s (median)' }),
      'vs SDK': ratio(median(roundRatios(samples, i))),
    }));
    const rps = median(samples[1].map((s) => s.rps));
    const share = median(roundRatios(samples, 1));
    const p99 = median(samples[1].map((s) => s.p99));
    const met = (ok) => (ok ? 'met' : 'NOT met');
    return {
      title: 'MCP over HTTP: tools/call whoami vs the SDK stateless recipe',
      rows,
      notes: [
        `wrk -t1 -c${CONNECTIONS} from a second process, POST with a Lua script, ${SECONDS} s a round, ${ROUNDS} rounds each, alternating, after a 1 s warm-up of each; loopback only. "vs SDK" is the median of per-round ratios.`,
        'Every contender authenticates the Bearer key and charges one request through the same Gate and KeyService on one temp file database (enterprise organization whose quota never binds); the SDK baseline registers a whoami tool calling the same LocalKeyApi, so only the way MCP is served differs.',
        `Targets: ≥ ${int(TARGET_RPS)} calls/s (${met(rps >= TARGET_RPS)}), ≥ ${TARGET_RATIO}× the SDK recipe (${met(share >= TARGET_RATIO)}), p99 < ${TARGET_P99} ms at ${CONNECTIONS} connections (${met(p99 < TARGET_P99)}), access log off.`,
        'wrk and the servers share the machine: on 2 cores the figures are bounded by both, and by whatever else runs.',
      ],
    };
  } finally {
    for (const s of servers) await stop(s.child);
    cleanup();
  }
}
