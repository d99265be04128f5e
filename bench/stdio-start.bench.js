// stdio cold start: how long an IDE waits, from launching the server to its answer to `initialize`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CLI, int, median, msText, quantile, ratio, seedDatabase, tempDir } from './lib.js';

const REPETITIONS = 30;
const SDK2 = join(new URL('.', import.meta.url).pathname, 'stdio-baseline-sdk2.js');
const WARM_UP = 3;
const TIMEOUT_MS = 10_000;

const INITIALIZE = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } },
})}\n`;

/** A 2026-07-28 client has no handshake: its first message is server/discover (or any request) with _meta. */
const DISCOVER = `${JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'server/discover',
  params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
})}\n`;

function withTimeout(child, reject) {
  return setTimeout(() => {
    child.kill('SIGKILL');
    reject(new Error(`no answer within ${TIMEOUT_MS} ms`));
  }, TIMEOUT_MS);
}

/** Spawn to exit of a command that does nothing else. */
function timeExit(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
    const timer = withTimeout(child, reject);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${args.join(' ')} exited with ${code}`));
    });
  });
}

/** Spawn to the first line on stdout, the initialize request written at once; then the server is stopped (not timed). */
function timeInitialize(env, request = INITIALIZE, args = [CLI]) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = withTimeout(child, reject);
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      err = (err + chunk).slice(-2_000);
    });
    let elapsed;
    child.once('error', reject);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (elapsed === undefined && out.includes('\n')) {
        elapsed = performance.now() - t0;
        const answer = JSON.parse(out.slice(0, out.indexOf('\n')));
        if (answer.id !== 0 || !(answer.result?.serverInfo ?? answer.result?.supportedVersions)) reject(new Error(`unexpected answer: ${out.slice(0, 200)}`));
        // Stop it as a client does on shutdown, before it loads the rest, so the next run starts on a quiet machine.
        child.kill('SIGTERM');
      }
    });
    // 'close', not 'exit': it comes after stdout has been read to its end.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (elapsed === undefined) reject(new Error(`exited (${signal ?? code}) without answering; stderr: ${err.trim() || '(empty)'}`));
      else resolve(elapsed);
    });
    child.stdin.write(request);
  });
}

export default async function stdioStartBench({ log }) {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'dispersl.db');
    const { token } = await seedDatabase(db);
    const env = { ...process.env, DISPERSL_API_KEY: token, DISPERSL_DB: db };
    const contenders = [
      { name: 'baseline: node -e 0, spawn to exit', run: () => timeExit(['-e', '0'], env) },
      { name: 'ours: dispersl-mcp (stdio), spawn to initialize answer', run: () => timeInitialize(env) },
      { name: 'ours: dispersl-mcp (stdio), spawn to server/discover answer (2026-07-28)', run: () => timeInitialize(env, DISCOVER) },
      { name: 'SDK v2 serveStdio, same whoami tool, spawn to initialize answer', run: () => timeInitialize(env, INITIALIZE, [SDK2]) },
      { name: 'SDK v2 serveStdio, same whoami tool, spawn to server/discover answer', run: () => timeInitialize(env, DISCOVER, [SDK2]) },
      { name: 'for reference: dispersl-mcp --version, spawn to exit', run: () => timeExit([CLI, '--version'], env) },
    ];
    for (const c of contenders) {
      c.times = [];
      for (let i = 0; i < WARM_UP; i++) await c.run();
    }
    // Interleaved, one process at a time, so a burst of load from elsewhere hits every contender alike.
    for (let i = 0; i < REPETITIONS; i++) {
      for (const c of contenders) c.times.push(await c.run());
      if ((i + 1) % 10 === 0) log(`${i + 1}/${REPETITIONS}`);
    }
    const base = contenders[0];
    return {
      title: 'stdio cold start: spawn to the first answer (initialize, or server/discover for 2026-07-28)',
      rows: contenders.map((c) => ({
        command: c.name,
        runs: int(c.times.length),
        median: msText(median(c.times)),
        p90: msText(quantile(c.times, 0.9)),
        min: msText(Math.min(...c.times)),
        'median vs node -e 0': ratio(median(c.times) / median(base.times)),
        'p90 vs node -e 0': ratio(quantile(c.times, 0.9) / quantile(base.times, 0.9)),
        // The fastest run is the one least disturbed by other work on the machine.
        'min vs node -e 0': ratio(Math.min(...c.times) / Math.min(...base.times)),
      })),
      notes: [
        `Ours: \`node dist/cli/main.js\` with DISPERSL_API_KEY and DISPERSL_DB (a seeded temp file) set; the initialize request is written to stdin at spawn and the time runs until its answer line arrives on stdout. The baseline is the cost of starting Node itself.`,
        `${REPETITIONS} interleaved runs each after ${WARM_UP} warm-up runs, one process at a time; ours is stopped with SIGTERM once it has answered.`,
      ],
    };
  } finally {
    cleanup();
  }
}
