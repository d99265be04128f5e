// Helpers of the HTTP benchmarks: start a server process on a free loopback port, drive it with
// wrk (a second process), and read a process's resident memory.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CLI, int, median } from './lib.js';

export const HERE = new URL('.', import.meta.url).pathname;

/** wrk is the load generator (Debian package `wrk`); fail early, saying how to install it. */
export function requireWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
  } catch (err) {
    // wrk prints its version and exits 1; only a missing binary is a failure.
    if (err.code === 'ENOENT') throw new Error('wrk is not installed: apt-get update && apt-get install -y wrk');
  }
}

/** A port free right now: taken by the OS, then released for the server to bind. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function waitHealthy(child, url, what) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await fetch(url).then((r) => r.status < 500, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${what} did not answer ${url} within 20 s`);
}

/** `dispersl-mcp serve` on dbPath; logLevel 'warn' turns the access log off, 'info' keeps it (to a file). */
export async function startServe(dbPath, home, { logLevel = 'warn' } = {}) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { PATH: process.env.PATH, HOME: home, DISPERSL_DB: dbPath, DISPERSL_LOG_LEVEL: logLevel };
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], { env, stdio: ['ignore', 'ignore', 'ignore'] });
  await waitHealthy(child, `${url}/healthz`, 'serve');
  return { url, child };
}

/** A baseline server script of bench/ (it reads PORT and its own settings from the environment). */
export async function startScript(file, env, probePath) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(HERE, file)], { env: { PATH: process.env.PATH, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy(child, `${url}${probePath}`, file);
  return { url, child };
}

export function stop(child) {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** A wrk Lua script that POSTs one JSON body with the given headers; written into dir. */
export function postScript(dir, name, body, headers) {
  const lua = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(JSON.stringify(body))}`,
    ...Object.entries({ 'Content-Type': 'application/json', ...headers }).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
  ].join('\n');
  const path = join(dir, `${name}.lua`);
  writeFileSync(path, `${lua}\n`);
  return path;
}

/** One wrk run (a second process): requests/s, p50/p99 (ms) and the count of failed requests (non-2xx, timeouts, errors). */
export function wrk(url, { connections, seconds, headers = {}, script }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (script) args.push('-s', script);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [...args, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}: ${out}`));
      else resolve(parseWrk(out));
    });
  });
}

function parseWrk(out) {
  const ms = (label) => {
    const match = new RegExp(`^\\s+${label}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!match) return Number.NaN;
    const n = Number(match[1]);
    return match[2] === 'us' ? n / 1000 : match[2] === 's' ? n * 1000 : n;
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    p50: ms('50%'),
    p99: ms('99%'),
    failed: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) + (errors ? errors.slice(1).reduce((a, n) => a + Number(n), 0) : 0),
  };
}

/**
 * Runs `measure(i)` for each of `count` contenders once a round, alternating who goes first, so a
 * drift in the machine's load hits all alike. Refuses a round with failed requests.
 */
export async function alternateRounds({ count, rounds, measure, label, log }) {
  const samples = Array.from({ length: count }, () => []);
  const indices = [...samples.keys()];
  for (let round = 0; round < rounds; round++) {
    for (const i of round % 2 === 0 ? indices : [...indices].reverse()) {
      const result = await measure(i);
      if (result.failed > 0) throw new Error(`${label(i)}: ${result.failed} requests failed`);
      samples[i].push(result);
      log(`round ${round + 1}: ${label(i)} ${int(result.rps)}/s, p99 ${result.p99} ms`);
    }
  }
  return samples;
}

/**
 * wrk against each contender ({label, url, headers?, script?}): a 1 s warm-up of each, then `rounds`
 * alternating rounds of `seconds` (see alternateRounds). Answers the samples, per contender.
 */
export async function wrkRounds(contenders, { connections, seconds, rounds, log, prefix = '' }) {
  const load = (c, s) => wrk(c.url, { connections, seconds: s, headers: c.headers, script: c.script });
  for (const c of contenders) await load(c, 1);
  return alternateRounds({ count: contenders.length, rounds, measure: (i) => load(contenders[i], seconds), label: (i) => `${prefix}${contenders[i].label}`, log });
}

/** Contender i's rate over contender `base`'s, round by round (rounds alternate, so each pair met the same load). */
export function roundRatios(samples, i, base = 0) {
  return samples[i].map((s, round) => s.rps / samples[base][round].rps);
}

/** A contender's row from its wrk rounds: median throughput, its range, median p50 and p99; `extra` columns go after the range. */
export function wrkRow(label, samples, { rate = 'req/s (median)', extra = {} } = {}) {
  const rps = samples.map((s) => s.rps);
  return {
    contender: label,
    [rate]: int(median(rps)),
    'min–max': `${int(Math.min(...rps))}–${int(Math.max(...rps))}`,
    ...extra,
    p50: `${median(samples.map((s) => s.p50)).toFixed(2)} ms`,
    p99: `${median(samples.map((s) => s.p99)).toFixed(2)} ms`,
  };
}

/** Resident memory of a process, in MiB (Linux /proc). */
export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}
