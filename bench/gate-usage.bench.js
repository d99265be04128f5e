// The gate with usage counting (hourly buckets per key written in the batch) against the same gate
// whose batches write no buckets, in one run, alternating rounds.
import { join } from 'node:path';
import { Gate } from '../dist/core/auth.js';
import { SqliteStore } from '../dist/store/sqlite.js';
import { drive, int, median, msText, quantile, ratio, seedDatabase, tempDir } from './lib.js';

const ROUNDS = 5;
const ROUND_MS = 1_000;
const KEYS = 16;
const TARGET = 0.9;
const SCENARIOS = [
  { label: '1 in flight', concurrency: 1 },
  { label: '64 in flight, 16 keys', concurrency: 64 },
];

/** The same store, but every batch drops the outcomes decide returns: no usage bucket is written. */
function withoutBuckets(store) {
  return new Proxy(store, {
    get(target, name) {
      if (name === 'chargeBatch') {
        return (refs, decide, at, context) => target.chargeBatch(refs, (found, held) => ({ ...decide(found, held), outcomes: undefined }), at, context);
      }
      const value = target[name];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export default async function gateUsageBench({ log }) {
  const rows = [];
  const notes = [];
  for (const scenario of SCENARIOS) {
    const contenders = [];
    const temps = [];
    for (const [label, wrap] of [
      ['gate without usage buckets', withoutBuckets],
      ['gate with usage buckets (ours)', (s) => s],
    ]) {
      const temp = tempDir();
      temps.push(temp);
      const path = join(temp.dir, 'gate.db');
      const { extraTokens } = await seedDatabase(path, { extraKeys: KEYS });
      const store = new SqliteStore(path);
      contenders.push({ label, store, gate: new Gate(wrap(store)), tokens: extraTokens, samples: [], latencies: [] });
    }
    try {
      for (const c of contenders) {
        let n = 0;
        await drive(() => c.gate.admit({ token: c.tokens[n++ % c.tokens.length], ip: '127.0.0.1' }).then((a) => a.release()), { ms: 200, concurrency: scenario.concurrency });
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of round % 2 ? [...contenders].reverse() : contenders) {
          let n = 0;
          const r = await drive(() => c.gate.admit({ token: c.tokens[n++ % c.tokens.length], ip: '127.0.0.1' }).then((a) => a.release()), { ms: ROUND_MS, concurrency: scenario.concurrency });
          c.samples.push(r.perSecond);
          c.latencies.push(...r.latencies);
          log(`${scenario.label} round ${round + 1}: ${c.label} ${int(r.perSecond)}/s`);
        }
      }
      const ratios = contenders[1].samples.map((s, i) => s / contenders[0].samples[i]);
      for (const c of contenders) {
        rows.push({ scenario: scenario.label, contender: c.label, 'admits/s (median)': int(median(c.samples)), 'min–max': `${int(Math.min(...c.samples))}–${int(Math.max(...c.samples))}`, p50: msText(median(c.latencies)), p99: msText(quantile(c.latencies, 0.99)) });
      }
      const share = median(ratios);
      rows.push({ scenario: scenario.label, contender: 'with ÷ without (median of per-round ratios)', 'admits/s (median)': ratio(share), 'min–max': `${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))}`, p50: '', p99: '' });
      const buckets = contenders[1].store.db.prepare('SELECT total(admitted) FROM usage_hours').pluck().get();
      const charged = contenders[1].store.db.prepare('SELECT total(hour_count) FROM usage').pluck().get();
      notes.push(`${scenario.label}: target ≥ ${TARGET}×, ${share >= TARGET ? 'met' : 'NOT met'}; the buckets hold ${int(buckets)} admitted requests for ${int(charged)} charged (the seeding's requests are not counted by the wrapper-free seed).`);
    } finally {
      for (const c of contenders) await c.store.close();
      for (const t of temps) t.cleanup();
    }
  }
  return {
    title: 'Gate: usage buckets written in the batch vs none',
    rows,
    notes: [
      `Each contender has its own SQLite file (WAL) with an enterprise organization whose quota never binds and ${KEYS} keys; callers cycle through the keys. ${ROUNDS} alternating rounds of ${ROUND_MS} ms after a warm-up; admits/s is the median round.`,
      'Both gates write this process’s in-flight slots and its owner row in the batch (cross-process concurrency); the only difference is the hourly usage bucket upsert per key and batch.',
      ...notes,
    ],
  };
}
