// POST /v1/keys/verify against a bare Hono route answering the same JSON (wrk, c=10, alternating
// rounds); verify with hold and release; and what the dispersl-mcp/verify client adds over a raw
// keep-alive request.
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { drive, int, median, msText, quantile, ratio, seedDatabase, tempDir } from './lib.js';
import { postScript, requireWrk, roundRatios, startScript, startServe, stop, wrkRounds, wrkRow } from './http-lib.js';

const ROUNDS = 3;
const SECONDS = 3;
const CONNECTIONS = 10;
const TARGET = 0.6;
const SEQUENTIAL = 2_000;

function rawPost(agent, url, body, headers) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function sequentialP50(op) {
  for (let i = 0; i < 200; i++) await op();
  const times = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t0 = performance.now();
    await op();
    times.push(performance.now() - t0);
  }
  return { p50: median(times), p99: quantile(times, 0.99) };
}

export default async function verifyBench({ log }) {
  requireWrk();
  const { createVerifier } = await import('../dist/verify/index.js');
  const { dir, cleanup } = tempDir();
  const servers = [];
  try {
    const dbPath = join(dir, 'bench.db');
    const { token, extraTokens } = await seedDatabase(dbPath, { extraKeys: 1 });
    const user = extraTokens[0];
    const ours = await startServe(dbPath, dir);
    servers.push(ours);
    const body = { key: user };
    const sample = await fetch(`${ours.url}/v1/keys/verify`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await sample.json();
    if (sample.status !== 200 || answer.valid !== true) throw new Error(`verify answered ${sample.status} ${JSON.stringify(answer)}`);
    const answerFile = join(dir, 'answer.json');
    writeFileSync(answerFile, JSON.stringify(answer));
    const bare = await startScript('http-baseline-verify.js', { ANSWER_FILE: answerFile }, '/healthz');
    servers.push(bare);

    const script = postScript(dir, 'verify', body, { Authorization: `Bearer ${token}` });
    const contenders = [
      { label: 'baseline: bare Hono POST route, same JSON, no auth', url: `${bare.url}/v1/keys/verify` },
      { label: 'ours: POST /v1/keys/verify (verifier peeked, key charged)', url: `${ours.url}/v1/keys/verify` },
    ];
    const samples = await wrkRounds(
      contenders.map((c) => ({ ...c, script })),
      { connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, log },
    );
    const ratios = roundRatios(samples, 1);
    const share = median(ratios);
    const rows = contenders.map((c, i) => wrkRow(c.label, samples[i]));
    rows.push({ contender: 'ours ÷ baseline (median of per-round ratios)', 'req/s (median)': ratio(share), 'min–max': `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}`, p50: '', p99: '' });

    // hold + release: a lease taken and given back per call, 10 callers, through the client.
    const verifier = createVerifier({ baseUrl: ours.url, key: token });
    const held = await drive(
      async () => {
        const r = await verifier.verify(user, { hold: true });
        if (!r.valid) throw new Error(`hold answered ${r.type}`);
        await verifier.release(r.lease.id);
      },
      { ms: SECONDS * 1000, concurrency: CONNECTIONS },
    );
    rows.push({ contender: 'ours: verify with hold, then release (client, 10 callers, 2 requests a call)', 'req/s (median)': `${int(held.perSecond)} calls/s`, 'min–max': '', p50: msText(median(held.latencies)), p99: msText(quantile(held.latencies, 0.99)) });

    // The client's cost: verifier.verify against a raw keep-alive POST of the same body, one at a time, on the bare route.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const raw = await sequentialP50(() => rawPost(agent, `${bare.url}/v1/keys/verify`, JSON.stringify(body), { authorization: `Bearer ${token}` }));
    const client = createVerifier({ baseUrl: bare.url, key: token, maxSockets: 1 });
    const viaClient = await sequentialP50(() => client.verify(user));
    const added = viaClient.p50 - raw.p50;
    agent.destroy();
    client.close();
    verifier.close();
    return {
      title: 'Verify: POST /v1/keys/verify vs a bare Hono route; hold + release; the client',
      rows,
      notes: [
        `wrk -t1 -c${CONNECTIONS} from a second process, ${SECONDS} s a round, ${ROUNDS} rounds each, alternating, after a 1 s warm-up; loopback only. Target: ours ≥ ${TARGET}× the bare route; ${share >= TARGET ? 'met' : 'NOT met'} in this run.`,
        'Ours: one serve process (no access log) on a temp file; each verify peeks the verifier key (not charged), then judges and charges the verified key in the gate’s group-committed batch, which also counts the hour’s usage bucket. Enterprise organization whose quota never binds.',
        `Client overhead (${int(SEQUENTIAL)} sequential calls on the bare route, one kept-alive socket): raw node:http POST p50 ${msText(raw.p50)} (p99 ${msText(raw.p99)}); verifier.verify p50 ${msText(viaClient.p50)} (p99 ${msText(viaClient.p99)}); added p50 ${msText(added)} (target < 0.2 ms: ${added < 0.2 ? 'met' : 'NOT met'}).`,
        'wrk and the servers share the machine: on 2 cores the figures are bounded by both, and by whatever else runs.',
      ],
    };
  } finally {
    for (const s of servers) await stop(s.child);
    cleanup();
  }
}
