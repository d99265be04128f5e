// GET /v1/keys (a page of 20, authenticated, one request charged to the persisted quota that every
// process on the database shares) against a bare Hono route returning the same JSON with no
// authentication, both driven by wrk from a second process, in alternating rounds of one run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { int, median, ratio, seedDatabase, tempDir } from './lib.js';
import { requireWrk, roundRatios, startScript, startServe, stop, wrkRounds, wrkRow } from './http-lib.js';

const ROUNDS = 5;
const SECONDS = 3;
const CONNECTIONS = 10;
const TARGET = 0.5;

export default async function httpRestBench({ log }) {
  requireWrk();
  const { dir, cleanup } = tempDir();
  const servers = [];
  try {
    const dbPath = join(dir, 'bench.db');
    const { token } = await seedDatabase(dbPath, { extraKeys: 20 });
    const ours = await startServe(dbPath, dir);
    servers.push(ours);
    const path = '/v1/keys?limit=20';
    const sample = await fetch(`${ours.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const page = await sample.json();
    if (sample.status !== 200 || page.apiKeys.length !== 20) throw new Error(`GET /v1/keys answered ${sample.status}`);
    const pageFile = join(dir, 'page.json');
    writeFileSync(pageFile, JSON.stringify(page));
    const bare = await startScript('http-baseline-hono.js', { PAGE_FILE: pageFile }, '/v1/keys');
    servers.push(bare);

    const contenders = [
      { label: 'baseline: bare Hono route, same JSON, no auth', url: `${bare.url}${path}`, headers: {} },
      { label: 'ours: dispersl-mcp serve, Bearer key, quota charged', url: `${ours.url}${path}`, headers: { Authorization: `Bearer ${token}` } },
    ];
    const samples = await wrkRounds(contenders, { connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, log });
    const ratios = roundRatios(samples, 1);
    const share = median(ratios);
    const rows = contenders.map((c, i) => wrkRow(c.label, samples[i]));
    rows.push({ contender: 'ours ÷ baseline (median of per-round ratios)', 'req/s (median)': ratio(share), 'min–max': `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}`, p50: '', p99: '' });
    const charged = await fetch(`${ours.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
    return {
      title: 'REST: authenticated GET /v1/keys vs a bare Hono route',
      rows,
      notes: [
        `wrk -t1 -c${CONNECTIONS} from a second process, ${SECONDS} s a round, ${ROUNDS} rounds each, alternating, after a 1 s warm-up of each; loopback only.`,
        'Ours: one serve process (DISPERSL_LOG_LEVEL=warn, so no access log) on a temp file database; each request checks the key (checksum, SHA-256, lookup), charges one request to the hourly quota persisted in SQLite (group-committed, so shared with every other process on the file), lists a page of 20 keys (the store keeps a page until a key changes, in any process, and reads last_used_at fresh every time) and sets the rate-limit headers. The baseline returns the same JSON from memory.',
        `Requests charged to the key by the end: ${int(charged.limits.hourly.limit - charged.limits.hourly.remaining)} (enterprise organization whose quota never binds).`,
        `Target: ours ≥ ${TARGET}× the bare route; ${share >= TARGET ? 'met' : 'NOT met'} in this run.`,
        'wrk and the servers share the machine: on 2 cores the figures are bounded by both, and by whatever else runs.',
      ],
    };
  } finally {
    for (const s of servers) await stop(s.child);
    cleanup();
  }
}
