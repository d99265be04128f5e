// The gate on PostgreSQL: hash the token, find its key, charge one request against the quota every
// process on the database shares, beside the plain way: one guarded UPDATE … RETURNING per request.
import pg from 'pg';
import { Gate } from '../dist/core/auth.js';
import { PostgresStore } from '../dist/store/postgres.js';
import { checkExact, gateContender, gateRows, gateScenarios, rateOf, runGateRounds, sha256 } from './gate-lib.js';
import { ratio, seedDatabase } from './lib.js';
import { startCluster } from './pg-lib.js';

const ROUNDS = 3;
const ROUND_MS = 1_500;
const WARM_MS = 600;
const KEYS = 64;
const POOL = 10;
const TARGET = 5;
const SCENARIOS = gateScenarios(KEYS);
const IP = '127.0.0.1';
const HOUR_MS = 3_600_000;

/** Persisted requests of the database clock's current hour, over every key. */
async function persisted(pool) {
  const { rows } = await pool.query(
    `SELECT coalesce(sum(hour_count), 0)::bigint AS n FROM usage
     WHERE hour_window = (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint / ${HOUR_MS}) * ${HOUR_MS}`,
  );
  return Number(rows[0].n);
}

/**
 * What one writes first: per request, sha256 + one statement that finds the key (live, enabled) and
 * charges it where its organization's quota allows, answering the new count. One round trip and one
 * commit per request; the counter rows exist beforehand.
 */
async function plain(url) {
  const pool = new pg.Pool({ connectionString: url, max: POOL });
  await pool.query(`INSERT INTO usage (key_id, hour_window, hour_count, own_window, own_count)
    SELECT id, (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint / ${HOUR_MS}) * ${HOUR_MS}, 0, 0, 0 FROM keys ON CONFLICT DO NOTHING`);
  const charge = {
    name: 'plain_charge',
    text: `UPDATE usage u SET hour_count = u.hour_count + 1, last_used_at = floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
      FROM keys k JOIN organizations o ON o.id = k.org_id
      WHERE u.key_id = k.id AND k.hash = $1 AND k.revoked_at IS NULL AND k.enabled AND u.hour_count < o.requests_per_hour
      RETURNING u.hour_count`,
  };
  return {
    async admit(token) {
      const { rowCount } = await pool.query({ ...charge, values: [sha256(token)] });
      if (rowCount !== 1) throw new Error('rejected or rate limited');
    },
    persisted: () => persisted(pool),
    close: () => pool.end(),
  };
}

/** Ours: the real Gate over the real PostgresStore, as serve runs it (the database's clock, a pool of 10). */
async function ours(url) {
  const store = await PostgresStore.open(url, { poolMax: POOL });
  const gate = new Gate(store, Date.now, { storeClock: true, flushesInFlight: 2 });
  const check = new pg.Pool({ connectionString: url, max: 1 });
  return {
    async admit(token) {
      const admission = await gate.admit({ token, ip: IP });
      admission.release();
    },
    persisted: () => persisted(check),
    close: async () => {
      await check.end();
      await store.close();
    },
  };
}

export default async function gatePostgresBench({ log }) {
  // A run must stay in one hour of the database clock, or the counters restart and cannot be checked.
  const left = HOUR_MS - (Date.now() % HOUR_MS);
  if (left < 90_000) {
    log(`waiting ${Math.ceil(left / 1000)} s for the next hour`);
    await new Promise((resolve) => setTimeout(resolve, left + 1_000));
  }
  const cluster = await startCluster();
  try {
    const contenders = [];
    for (const [name, make] of [
      ['plain: sha256 + UPDATE … RETURNING, one round trip and commit per request', plain],
      ['ours: Gate + PostgresStore (a batch per flush, two round trips, one commit)', ours],
    ]) {
      const url = await cluster.createDatabase();
      const seed = await seedDatabase(url, { extraKeys: KEYS - 1 });
      contenders.push(await gateContender(name, [seed.token, ...seed.extraTokens], await make(url)));
    }

    await runGateRounds(contenders, SCENARIOS, { rounds: ROUNDS, roundMs: ROUND_MS, warmMs: WARM_MS, log });
    const rows = gateRows(contenders, SCENARIOS);
    const headline = rateOf(contenders[1], SCENARIOS[2]) / rateOf(contenders[0], SCENARIOS[2]);
    const exact = await checkExact(contenders);

    return {
      title: 'Gate on PostgreSQL: authenticate and charge one request',
      rows,
      notes: [
        `One throwaway PostgreSQL cluster (${'the installed server'}, default durability: fsync and synchronous_commit on) on this machine, over loopback TCP; a database per contender, each holding one enterprise organization with ${KEYS} keys and a quota that never runs out. Both use a pool of ${POOL} connections.`,
        'Plain: one statement per request that finds the key by hash (live, enabled) and increments its counter where the organization\'s quota allows (a guarded UPDATE … RETURNING; the check of expiry, IPs, the key\'s own window and the concurrency limit are left out, which only flatters it).',
        'Ours: the requests that arrive while a flush is under way go together in the next (at most 2 flushes wait on the database at once, as serve runs the gate); a flush is: BEGIN, lock the batch\'s key rows in id order, read the database clock, read the keys with organization and usage (one round trip); decide in JS (the core\'s pure decision: expiry, IPs, both windows, concurrency); write every charged counter in one INSERT … ON CONFLICT DO UPDATE and COMMIT (a second round trip). Each admission is released as soon as it is answered, as serve does after its response: the release rides along with the next flush, which writes a key\'s in-flight count only when it changed.',
        `"in flight" is how many callers run at once, each awaiting its admit before issuing the next. ${ROUNDS} alternating rounds of ${ROUND_MS} ms per contender and scenario after a warm-up; admits/s is the median round.`,
        `Persisted counters checked against the admits answered, after the run: ${exact.join('; ')}.`,
        `Target: ours ≥ ${TARGET}× plain at 64 in flight over ${KEYS} keys; ${ratio(headline)} in this run, ${headline >= TARGET ? 'met' : 'NOT met'}.`,
        'The database server, the benchmark and whatever else runs share the 2 cores.',
      ],
    };
  } finally {
    cluster.stop();
  }
}
