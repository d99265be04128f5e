// GET /v1/keys over a real `dispersl-mcp serve` process, driven by wrk: an OAuth access token as
// Bearer beside the key itself, alternating rounds in one run. Both pass the same gate and charge
// the same key; the token adds its verification (a cache hit after the first request) and a lookup
// by id instead of by hash.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { alternateRounds, requireWrk, startServe, stop, wrk, wrkRow } from './http-lib.js';
import { median, ratio, seedDatabase, tempDir } from './lib.js';

const ROUNDS = 6;
const SECONDS = 2;
const WARM_SECONDS = 1;
const CONNECTIONS = 16;
const TARGET = 0.8;

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds the server process has used (user + system, from /proc), or NaN off Linux. CPU per
 * request hardly moves with load from other processes, unlike requests per second on a shared machine.
 */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

async function accessToken(url, keyId, secret) {
  const response = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${keyId}:${secret}`).toString('base64')}` },
    body: 'grant_type=client_credentials&scope=keys%3Aread',
  });
  if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${await response.text()}`);
  return (await response.json()).access_token;
}

export default async function oauthBench({ log }) {
  requireWrk();
  const { dir, cleanup } = tempDir();
  let server;
  try {
    const dbPath = join(dir, 'bench.db');
    const { keyId, token } = await seedDatabase(dbPath, { extraKeys: 10 });
    server = await startServe(dbPath, dir);
    const url = `${server.url}/v1/keys`;
    const bearer = await accessToken(server.url, keyId, token);
    const contenders = [
      { label: 'key: Bearer pk_live_…', bearer: token },
      { label: 'access token: Bearer <JWT> (scope keys:read)', bearer },
    ];
    const run = (bearer, seconds) => wrk(url, { connections: CONNECTIONS, seconds, headers: { Authorization: `Bearer ${bearer}` } });
    for (const c of contenders) await run(c.bearer, WARM_SECONDS);
    const samples = await alternateRounds({
      count: contenders.length,
      rounds: ROUNDS,
      measure: async (i) => {
        const cpuBefore = cpuSeconds(server.child.pid);
        const result = await run(contenders[i].bearer, SECONDS);
        return { ...result, cpuUs: ((cpuSeconds(server.child.pid) - cpuBefore) * 1e6) / result.requests };
      },
      label: (i) => contenders[i].label,
      log,
    });
    const rows = contenders.map((c, i) =>
      wrkRow(c.label, samples[i], { extra: { 'server CPU µs/request (median)': median(samples[i].map((s) => s.cpuUs)).toFixed(0) } }),
    );
    // Each round runs both back to back, so a round's ratio sees one machine load; the median of those is the figure.
    const ratios = samples[0].map((key, round) => samples[1][round].rps / key.rps);
    const share = median(ratios);
    // Throughput a CPU-bound server would reach alone: the inverse of its CPU per request.
    const cpuShare = median(samples[0].map((s) => s.cpuUs)) / median(samples[1].map((s) => s.cpuUs));
    rows.push({
      contender: 'access token ÷ key (req/s: median of per-round ratios; CPU: key µs ÷ token µs)',
      'req/s (median)': ratio(share),
      'min–max': `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}`,
      'server CPU µs/request (median)': ratio(cpuShare),
      p50: '',
      p99: '',
    });
    return {
      title: 'OAuth access token vs key: GET /v1/keys over HTTP',
      rows,
      notes: [
        `wrk -t1 -c${CONNECTIONS}, ${SECONDS} s a round, ${ROUNDS} rounds each, alternating, after a ${WARM_SECONDS} s warm-up of each; one serve process (DISPERSL_LOG_LEVEL=warn) on a temp file database, enterprise organization whose limits never bind, 11 keys listed per call.`,
        `Both charge the same key one request per call. Target: the token within 20% of the key (ratio ≥ ${TARGET}): by req/s ${share >= TARGET ? 'met' : 'NOT met'}, by server CPU per request ${cpuShare >= TARGET ? 'met' : 'NOT met'} in this run.`,
        'Server CPU per request is read from /proc/<pid>/stat around each round; on a busy shared machine it is the steadier figure, since req/s also measures what else the cores were doing.',
        'wrk and the server share the machine: on 2 cores the figures are bounded by both, and by whatever else runs.',
      ],
    };
  } finally {
    if (server) await stop(server.child);
    cleanup();
  }
}
