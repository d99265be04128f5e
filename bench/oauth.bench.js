// GET /v1/keys over a real `dispersl-mcp serve` process, driven by wrk: an OAuth access token as
// Bearer beside the key itself, alternating rounds in one run. Both pass the same gate and charge
// the same key; the token adds its verification (a cache hit after the first request) and a lookup
// by id instead of by hash.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLI, int, median, ratio, seedDatabase, tempDir } from './lib.js';

const ROUNDS = 6;
const SECONDS = 2;
const WARM_SECONDS = 1;
const CONNECTIONS = 16;
const TARGET = 0.8;

function requireWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    // wrk prints its version and exits 1; only a missing binary is a failure.
    if (err.code === 'ENOENT') throw new Error('wrk is not installed (apt-get install -y wrk)');
  }
}

/** A port free right now: taken by the OS, then released for serve to bind. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Starts `serve` on the database (request logs off, as a production server tuned for load would run) and waits for /healthz. */
async function startServe(dbPath, home) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { PATH: process.env.PATH, HOME: home, DISPERSL_DB: dbPath, DISPERSL_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return { url, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error('serve did not answer /healthz within 20 s');
}

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

function stop(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** One wrk run; answers requests/s, latency percentiles (ms) and the count of non-2xx answers. */
function wrk(url, bearer, seconds) {
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `Authorization: Bearer ${bearer}`, url], {
    encoding: 'utf8',
  });
  const ms = (label) => {
    const match = new RegExp(`^\\s+${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!match) return Number.NaN;
    const n = Number(match[1]);
    return match[2] === 'us' ? n / 1000 : match[2] === 's' ? n * 1000 : n;
  };
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    p50: ms('50%'),
    p99: ms('99%'),
    failed: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors:.*?timeout (\d+)/.exec(out)?.[1] ?? 0),
  };
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
    const samples = contenders.map(() => []);
    for (const c of contenders) wrk(url, c.bearer, WARM_SECONDS);
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so a drift in machine load does not favour one.
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) {
        const cpuBefore = cpuSeconds(server.child.pid);
        const result = wrk(url, contenders[i].bearer, SECONDS);
        const requests = result.rps * SECONDS;
        result.cpuUs = ((cpuSeconds(server.child.pid) - cpuBefore) * 1e6) / requests;
        if (result.failed > 0) throw new Error(`${contenders[i].label}: ${result.failed} requests failed`);
        samples[i].push(result);
        log(`round ${round + 1}: ${contenders[i].label} ${int(result.rps)} req/s, ${result.cpuUs.toFixed(0)} µs server CPU a request`);
      }
    }
    const rows = contenders.map((c, i) => {
      const rps = samples[i].map((s) => s.rps);
      return {
        contender: c.label,
        'req/s (median)': int(median(rps)),
        'min–max': `${int(Math.min(...rps))}–${int(Math.max(...rps))}`,
        'server CPU µs/request (median)': median(samples[i].map((s) => s.cpuUs)).toFixed(0),
        p50: `${median(samples[i].map((s) => s.p50)).toFixed(2)} ms`,
        p99: `${median(samples[i].map((s) => s.p99)).toFixed(2)} ms`,
      };
    });
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
