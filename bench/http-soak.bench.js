// Memory under a steady load: 60 s of MCP tools/call and REST GET /v1/keys against one serve
// process, its resident memory sampled every second from /proc.
import { join } from 'node:path';
import { int, seedDatabase, tempDir } from './lib.js';
import { postScript, requireWrk, rssMiB, startServe, stop, wrk } from './http-lib.js';

const SECONDS = 60;
const LIMIT_MIB = 200;
/** "Does not grow": what the 60 s mark may add to the 30 s one, to allow for allocator noise. */
const GROWTH_TOLERANCE_MIB = 5;

export default async function httpSoakBench({ log }) {
  requireWrk();
  const { dir, cleanup } = tempDir();
  let server;
  try {
    const dbPath = join(dir, 'bench.db');
    const { token } = await seedDatabase(dbPath, { extraKeys: 20 });
    server = await startServe(dbPath, dir, { logLevel: 'info' });
    const pid = server.child.pid;
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    const script = postScript(dir, 'whoami', body, { Authorization: `Bearer ${token}` });
    const idle = rssMiB(pid);
    const samples = [];
    const started = Date.now();
    const sampler = setInterval(() => samples.push({ at: (Date.now() - started) / 1000, rss: rssMiB(pid) }), 1000);
    let results;
    try {
      results = await Promise.all([
        wrk(`${server.url}/mcp`, { connections: 40, seconds: SECONDS, script }),
        wrk(`${server.url}/v1/keys?limit=20`, { connections: 10, seconds: SECONDS, headers: { Authorization: `Bearer ${token}` } }),
      ]);
    } finally {
      clearInterval(sampler);
    }
    const after = rssMiB(pid);
    const at = (s) => samples.reduce((best, x) => (Math.abs(x.at - s) < Math.abs(best.at - s) ? x : best)).rss;
    const [mcp, rest] = results;
    if (mcp.failed + rest.failed > 0) throw new Error(`${mcp.failed + rest.failed} requests failed`);
    const peak = Math.max(...samples.map((s) => s.rss));
    const growth = at(60) - at(30);
    log(`RSS idle ${idle.toFixed(1)} MiB, 30 s ${at(30).toFixed(1)}, 60 s ${at(60).toFixed(1)}, peak ${peak.toFixed(1)}`);
    const mib = (n) => `${n.toFixed(1)} MiB`;
    return {
      title: 'HTTP soak: resident memory over 60 s of load',
      rows: [
        { mark: 'idle, before load', RSS: mib(idle) },
        ...[10, 20, 30, 40, 50, 60].map((s) => ({ mark: `${s} s`, RSS: mib(at(s)) })),
        { mark: 'peak during load', RSS: mib(peak) },
        { mark: 'after load', RSS: mib(after) },
        { mark: 'growth 30 s → 60 s', RSS: mib(growth) },
      ],
      notes: [
        `Two wrk processes for ${SECONDS} s on one serve process (JSON access log on, to /dev/null): tools/call whoami on /mcp at 40 connections (${int(mcp.requests)} calls, ${int(mcp.rps)}/s) and GET /v1/keys?limit=20 at 10 connections (${int(rest.requests)} requests, ${int(rest.rps)}/s), every request charged to the persisted quota.`,
        `Target: under ${LIMIT_MIB} MiB throughout (${peak < LIMIT_MIB ? 'met' : 'NOT met'}: peak ${mib(peak)}), and no growth from 30 s to 60 s (${growth <= GROWTH_TOLERANCE_MIB ? 'met' : 'NOT met'}: ${mib(growth)}, tolerance ${GROWTH_TOLERANCE_MIB} MiB).`,
        'VmRSS from /proc/<pid>/status, sampled every second.',
      ],
    };
  } finally {
    if (server) await stop(server.child);
    cleanup();
  }
}
