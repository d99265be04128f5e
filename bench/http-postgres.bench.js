// REST GET /v1/keys on PostgreSQL beside the same on a SQLite file (one serve each), and two serve
// processes on one PostgreSQL database beside one: wrk from the same machine, alternating rounds.
import { join } from 'node:path';
import { int, median, ratio, seedDatabase, tempDir } from './lib.js';
import { alternateRounds, requireWrk, startServe, stop, wrk, wrkRow } from './http-lib.js';
import { startCluster } from './pg-lib.js';

const ROUNDS = 4;
const SECONDS = 3;
const CONNECTIONS = 10;
const PATH = '/v1/keys?limit=20';

/** wrk against several servers at once, connections split between them; their rates added. */
async function wrkAll(urls, headers) {
  const results = await Promise.all(urls.map((url) => wrk(`${url}${PATH}`, { connections: CONNECTIONS / urls.length, seconds: SECONDS, headers })));
  return {
    rps: results.reduce((sum, r) => sum + r.rps, 0),
    requests: results.reduce((sum, r) => sum + r.requests, 0),
    p50: Math.max(...results.map((r) => r.p50)),
    p99: Math.max(...results.map((r) => r.p99)),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
  };
}

export default async function httpPostgresBench({ log }) {
  requireWrk();
  const { dir, cleanup } = tempDir();
  const cluster = await startCluster();
  const servers = [];
  try {
    const sqlitePath = join(dir, 'bench.db');
    const pgUrl = await cluster.createDatabase();
    const onSqlite = await seedDatabase(sqlitePath, { extraKeys: 20 });
    const onPg = await seedDatabase(pgUrl, { extraKeys: 20 });
    const sqliteServe = await startServe(sqlitePath, dir);
    const pgServe = await startServe(pgUrl, dir);
    const pgServe2 = await startServe(pgUrl, dir);
    servers.push(sqliteServe, pgServe, pgServe2);

    const contenders = [
      { label: 'SQLite file, one serve', urls: [sqliteServe.url], token: onSqlite.token },
      { label: 'PostgreSQL, one serve', urls: [pgServe.url], token: onPg.token },
      { label: 'PostgreSQL, two serve on one database', urls: [pgServe.url, pgServe2.url], token: onPg.token },
    ];
    for (const c of contenders) {
      const answer = await fetch(`${c.urls[0]}${PATH}`, { headers: { authorization: `Bearer ${c.token}` } });
      if (answer.status !== 200 || (await answer.json()).apiKeys.length !== 20) throw new Error(`${c.label}: GET /v1/keys answered ${answer.status}`);
      await wrkAll(c.urls, { Authorization: `Bearer ${c.token}` });
    }
    const samples = await alternateRounds({
      count: contenders.length,
      rounds: ROUNDS,
      measure: (i) => wrkAll(contenders[i].urls, { Authorization: `Bearer ${contenders[i].token}` }),
      label: (i) => contenders[i].label,
      log,
    });
    const perRound = (a, b) => samples[a].map((s, round) => s.rps / samples[b][round].rps);
    const pgVsSqlite = perRound(1, 0);
    const twoVsOne = perRound(2, 1);
    const rows = contenders.map((c, i) => wrkRow(c.label, samples[i]));
    const ratioRow = (label, ratios) => ({ contender: label, 'req/s (median)': ratio(median(ratios)), 'min–max': `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}`, p50: '', p99: '' });
    rows.push(ratioRow('PostgreSQL ÷ SQLite, one serve each (median of per-round ratios)', pgVsSqlite));
    rows.push(ratioRow('two serve ÷ one serve on PostgreSQL (median of per-round ratios)', twoVsOne));
    const charged = await fetch(`${pgServe.url}/v1/me`, { headers: { authorization: `Bearer ${onPg.token}` } }).then((r) => r.json());
    return {
      title: 'REST on PostgreSQL: GET /v1/keys vs SQLite, and two serve processes vs one',
      rows,
      notes: [
        `wrk -t1 -c${CONNECTIONS} (two wrk of -c${CONNECTIONS / 2} at once for two servers, rates added, the worse latency shown), ${SECONDS} s a round, ${ROUNDS} rounds each, alternating, after a warm-up; loopback only.`,
        'Each request checks the key, charges one request to the quota (on PostgreSQL: a flush that locks the key row, reads the database clock and commits), lists a page of 20 keys and sets the rate-limit headers. serve at DISPERSL_LOG_LEVEL=warn (no access log); PostgreSQL with default durability (fsync on), a pool of 10 per process.',
        'SQLite keeps a page of keys in memory until a key changes; on PostgreSQL every list is a query (one round trip), as every process must see every other one\'s writes.',
        `Requests charged to the PostgreSQL key by the end: ${int(charged.limits.hourly.limit - charged.limits.hourly.remaining)}, by both processes together.`,
        'Two cores are shared by the servers, PostgreSQL and wrk (and by other work on this machine): a second serve process adds no CPU, so the two-process figure shows what sharing one database costs, not how far it scales on more machines.',
      ],
    };
  } finally {
    for (const s of servers) await stop(s.child);
    cluster.stop();
    cleanup();
  }
}
