// MCP tools/call whoami over Streamable HTTP in both protocol eras: ours (one process-wide dispatcher)
// against the MCP SDK v2's createMcpHandler (a server per request from a factory) doing the same
// work on the same database, at 10 and 50 connections, driven by wrk from a second process.
import { join } from 'node:path';
import { int, median, ratio, seedDatabase, tempDir } from './lib.js';
import { postScript, requireWrk, roundRatios, rssMiB, startScript, startServe, stop, wrkRounds, wrkRow } from './http-lib.js';

const ROUNDS = 5;
const SECONDS = 3;
const CONCURRENCY = [10, 50];
const V = '2026-07-28';
/** The contenders' indices, in the order each round runs them (reversed every other round). */
const [SDK_MODERN, OURS_MODERN, OURS_LEGACY, SDK_LEGACY] = [0, 1, 2, 3];
/** Which contender is the SDK v2 speaking the same revision as contender i. */
const SAME_ERA_BASELINE = [SDK_MODERN, SDK_MODERN, SDK_LEGACY, SDK_LEGACY];

export default async function httpMcp2026Bench({ log }) {
  requireWrk();
  const { dir, cleanup } = tempDir();
  const servers = [];
  try {
    const dbPath = join(dir, 'bench.db');
    const { token } = await seedDatabase(dbPath);
    const ours = await startServe(dbPath, dir);
    const sdk = await startScript('http-baseline-sdk2.js', { DISPERSL_DB: dbPath }, '/mcp');
    servers.push(ours, sdk);
    const started = Date.now();
    const legacyBody = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    const meta = { 'io.modelcontextprotocol/protocolVersion': V, 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '0' } };
    const modernBody = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: meta } };
    const base = { Authorization: `Bearer ${token}`, Accept: 'application/json, text/event-stream' };
    const modernHeaders = { ...base, 'MCP-Protocol-Version': V, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'whoami' };
    const legacy = postScript(dir, 'legacy', legacyBody, { ...base, 'MCP-Protocol-Version': '2025-11-25' });
    const modern = postScript(dir, 'modern', modernBody, modernHeaders);
    for (const [s, body, headers] of [[ours, legacyBody, base], [ours, modernBody, modernHeaders], [sdk, legacyBody, base], [sdk, modernBody, modernHeaders]]) {
      const text = await fetch(`${s.url}/mcp`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.text());
      // The SDK's legacy fallback answers over SSE: take the data line.
      const answer = JSON.parse(text.startsWith('{') ? text : /^data: (.*)$/m.exec(text)?.[1] ?? 'null');
      if (answer?.result?.structuredContent?.key === undefined) throw new Error(`whoami failed: ${JSON.stringify(answer).slice(0, 300)}`);
    }
    // Each pair a target compares runs back to back in every round (ours next to the SDK speaking its
    // revision, and ours' two revisions next to each other), so load from elsewhere hits both alike.
    const contenders = [
      { label: 'SDK v2 createMcpHandler, 2026-07-28', url: `${sdk.url}/mcp`, script: modern },
      { label: 'ours, 2026-07-28', url: `${ours.url}/mcp`, script: modern },
      { label: 'ours, 2025-11-25', url: `${ours.url}/mcp`, script: legacy },
      { label: 'SDK v2 createMcpHandler, 2025-11-25 (stateless fallback)', url: `${sdk.url}/mcp`, script: legacy },
    ];
    const rows = [];
    const byConcurrency = {};
    for (const connections of CONCURRENCY) {
      const samples = await wrkRounds(contenders, { connections, seconds: SECONDS, rounds: ROUNDS, log, prefix: `c=${connections} ` });
      byConcurrency[connections] = samples;
      contenders.forEach((c, i) =>
        rows.push({
          ...wrkRow(`c=${connections}: ${c.label}`, samples[i], { rate: 'calls/s (median)' }),
          'vs SDK v2 (same era)': ratio(median(roundRatios(samples, i, SAME_ERA_BASELINE[i]))),
        }),
      );
    }
    const upSeconds = Math.round((Date.now() - started) / 1000);
    const rss = { ours: rssMiB(ours.child.pid), sdk: rssMiB(sdk.child.pid) };
    const c10 = byConcurrency[10];
    const modernVsLegacy = median(roundRatios(c10, OURS_MODERN, OURS_LEGACY));
    const modernVsSdkRounds = roundRatios(c10, OURS_MODERN, SDK_MODERN);
    const modernVsSdk = median(modernVsSdkRounds);
    const tail = (samples) => median(samples.map((s) => s.p99)) / median(samples.map((s) => s.p50));
    const p99OverP50 = tail(byConcurrency[50][OURS_MODERN]);
    const sdkP99OverP50 = tail(byConcurrency[50][SDK_MODERN]);
    const met = (ok) => (ok ? 'met' : 'NOT met');
    return {
      title: 'MCP over HTTP, both eras: tools/call whoami vs the SDK v2 createMcpHandler',
      rows,
      notes: [
        `wrk -t1 from a second process, POST with a Lua script, ${SECONDS} s a round, ${ROUNDS} alternating rounds per contender and concurrency after a 1 s warm-up of each; loopback only. In each round the pairs a target compares run back to back. "vs SDK v2 (same era)" is the median of per-round ratios against createMcpHandler speaking the same revision.`,
        'Both servers authenticate the Bearer key and charge one request through the same Gate and KeyService on one temp file database (enterprise organization whose quota never binds), and both run on @hono/node-server; the SDK baseline builds an McpServer with a whoami tool calling the same LocalKeyApi per request, as createMcpHandler asks, so only the way MCP is served differs. 2026-07-28 requests carry _meta and the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers.',
        `Resident memory after ${upSeconds} s of serving this run: ours ${rss.ours.toFixed(1)} MiB, SDK v2 ${rss.sdk.toFixed(1)} MiB.`,
        `Targets: 2026-07-28 ≥ 0.9× our 2025-11-25 path at c=10 (${ratio(modernVsLegacy)}, ${met(modernVsLegacy >= 0.9)}); ≥ 5× the SDK v2 createMcpHandler at c=10 (${ratio(modernVsSdk)}, rounds ${ratio(Math.min(...modernVsSdkRounds))}–${ratio(Math.max(...modernVsSdkRounds))}, ${met(modernVsSdk >= 5)}); p99 at c=50 ≤ 4× its p50 (${p99OverP50.toFixed(2)}×, ${met(p99OverP50 <= 4)}; the SDK v2's own, 2026-07-28 at c=50: ${sdkP99OverP50.toFixed(2)}×).`,
        'wrk and the servers share the machine: on 2 cores the figures are bounded by both, and by whatever else runs.',
      ],
    };
  } finally {
    for (const s of servers) await stop(s.child);
    cleanup();
  }
}
