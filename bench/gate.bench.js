// The gate in-process: hash the token, find its key, charge one request against a persisted quota.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Gate } from '../dist/core/auth.js';
import { SqliteStore } from '../dist/store/sqlite.js';
import { checkExact, gateContender, gateRows, gateScenarios, runGateRounds, sha256 } from './gate-lib.js';
import { seedDatabase, tempDir } from './lib.js';

const ROUNDS = 3;
const ROUND_MS = 500;
const WARM_MS = 200;
const KEYS = 64;
const SCENARIOS = gateScenarios(KEYS);
const IP = '127.0.0.1';
const HOUR_MS = 3_600_000;

/** Opens a connection the way the store does: WAL, synchronous=NORMAL, a busy timeout. */
function connect(path) {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

// An exact quota needs the organization's limit, so the plain lookup joins it as ours does.
const LOOKUP = `SELECT k.id, k.revoked_at, k.enabled, k.expires_at, k.permissions, k.allowed_ips, o.plan, o.requests_per_hour
  FROM keys k JOIN organizations o ON o.id = k.org_id WHERE k.hash = ?`;

/** What one writes first: per call, sha256 + SELECT the key + a guarded UPDATE of its counter, one autocommit each. */
function plain(path) {
  const db = connect(path);
  const lookup = db.prepare(LOOKUP);
  db.prepare('INSERT OR IGNORE INTO usage (key_id, hour_window, hour_count, own_window, own_count) SELECT id, 0, 0, 0, 0 FROM keys').run();
  const charge = db.prepare('UPDATE usage SET hour_count = hour_count + 1, last_used_at = ? WHERE key_id = ? AND hour_count < ?');
  const total = db.prepare('SELECT total(hour_count) AS n FROM usage');
  return {
    admit(token) {
      const key = lookup.get(sha256(token));
      if (!key || key.revoked_at !== null || key.enabled !== 1) throw new Error('rejected');
      if (charge.run(Date.now(), key.id, key.requests_per_hour).changes !== 1) throw new Error('rate limited');
    },
    persisted: () => total.get().n,
    close: () => db.close(),
  };
}

/** The ceiling: sha256 + SELECT the key + a counter in a Map. Nothing persisted, nothing shared. */
function inMemory(path) {
  const db = connect(path);
  const lookup = db.prepare(LOOKUP);
  const counters = new Map();
  return {
    admit(token) {
      const key = lookup.get(sha256(token));
      if (!key || key.revoked_at !== null || key.enabled !== 1) throw new Error('rejected');
      counters.set(key.id, (counters.get(key.id) ?? 0) + 1);
    },
    persisted: () => undefined,
    close: () => db.close(),
  };
}

/**
 * The real clock shifted to half past the current hour, so a run never crosses an hour boundary
 * (the hourly counter would restart and the exactness check below could not add up).
 */
function midHourClock() {
  const now = Date.now();
  const hour = now - (now % HOUR_MS);
  const offset = hour + HOUR_MS / 2 - now;
  return { clock: () => Date.now() + offset, hour };
}

/** Ours: the real Gate over the real SqliteStore (group commit; each answer after its commit). */
function ours(path) {
  const store = new SqliteStore(path);
  const { clock, hour } = midHourClock();
  const gate = new Gate(store, clock);
  // Only this hour's counters: a key last charged in an earlier hour restarts from zero.
  const total = store.db.prepare('SELECT total(hour_count) AS n FROM usage WHERE hour_window = ?').bind(hour);
  return {
    async admit(token) {
      const admission = await gate.admit({ token, ip: IP });
      admission.release();
    },
    persisted: () => total.get().n,
    close: () => store.close(),
  };
}

export default async function gateBench({ log }) {
  const { dir, cleanup } = tempDir();
  try {
    // One database file per contender, same schema and data, so no one's WAL slows another down.
    const contenders = [];
    for (const [name, make] of [
      ['plain: sha256 + SELECT + UPDATE, autocommit per call', plain],
      ['ours: Gate + SqliteStore (group commit)', ours],
      ['in-memory: sha256 + SELECT + Map counter (not persisted, not shared)', inMemory],
    ]) {
      const path = join(dir, `${contenders.length}.db`);
      const seed = await seedDatabase(path, { extraKeys: KEYS - 1 });
      contenders.push(await gateContender(name, [seed.token, ...seed.extraTokens], make(path)));
    }

    await runGateRounds(contenders, SCENARIOS, { rounds: ROUNDS, roundMs: ROUND_MS, warmMs: WARM_MS, log });
    const rows = gateRows(contenders, SCENARIOS);
    const exact = await checkExact(contenders);

    return {
      title: 'Gate: authenticate and charge one request',
      rows,
      notes: [
        `Each contender has its own SQLite file (WAL, synchronous=NORMAL) holding one enterprise organization with ${KEYS} keys and a quota that never runs out. Every admit hashes the token (SHA-256), reads the key and its organization, and charges one request.`,
        `"in flight" is how many callers run at once, each awaiting its admit before issuing the next, as a server's requests do; with ${KEYS} keys each caller has its own key. Ours counts all admits of one event-loop turn in one write transaction, reading each key once and writing its counter once per batch, and answers each admit after that commit; with 1 in flight every admit is its own transaction.`,
        `The in-memory contender is the ceiling of a lookup per admit; ours exceeds it when many admits of one batch share a key, since the batch reads that key once.`,
        `${ROUNDS} alternating rounds of ${ROUND_MS} ms per contender and scenario after a warm-up; admits/s is the median round, latencies are over all rounds.`,
        `Persisted counters checked against the admits answered: ${exact.join('; ')}.`,
      ],
    };
  } finally {
    cleanup();
  }
}
