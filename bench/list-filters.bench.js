// list_keys filters on an organization of 100,000 keys: each filter's page time, and the plan SQLite uses.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, msText, tempDir } from './lib.js';

const KEYS = Number(process.env.BENCH_LIST_KEYS ?? 100_000);
const T0 = Date.UTC(2030, 0, 1);

export default async function run() {
  const { SqliteStore } = await import('../dist/store/sqlite.js');
  const { dir, cleanup } = tempDir();
  const store = new SqliteStore(join(dir, 'keys.db'));
  try {
    const org = { id: 'org_bench', name: 'Bench', plan: 'enterprise', requests_per_hour: null, max_concurrency: null, created_at: T0 };
    await store.insertOrganization(org);
    const seedStart = performance.now();
    store.db.transaction(() => {
      const insert = store.db.prepare(`INSERT INTO keys (id, org_id, hash, start, name, environment, permissions, allowed_ips, enabled, created_at, updated_at)
        VALUES (?, 'org_bench', ?, 'pk_live_abcd', ?, ?, '["keys:read"]', '[]', ?, ?, ?)`);
      const used = store.db.prepare('UPDATE usage SET last_used_at = ? WHERE key_id = ?');
      for (let i = 0; i < KEYS; i++) {
        const id = `key_${String(i).padStart(7, '0')}`;
        // One key in 10,000 is named "billing" and another disabled; a tenth are test keys; all but the oldest 1% were used recently.
        const name = i % 10_000 === 7 ? `Billing worker ${i}` : `service ${i}`;
        insert.run(id, `hash_${i}`, name, i % 10 === 0 ? 'test' : 'live', i % 10_000 === 3 ? 0 : 1, T0 + i, T0 + i);
        if (i >= KEYS / 100) used.run(T0 + KEYS + i, id);
      }
    })();
    const seedMs = performance.now() - seedStart;
    const cases = [
      ['no filter', {}],
      ['environment=test', { environment: 'test' }],
      ['name=billing (1 in 10,000)', { name: 'billing' }],
      ['name=service (nearly all)', { name: 'service' }],
      ['unused_since (oldest 1% unused)', { unusedSince: T0 + KEYS }],
      ['name matching nothing', { name: 'no such name' }],
      ['state=active (nearly all)', { state: 'active', now: T0 }],
      ['state=disabled (1 in 10,000)', { state: 'disabled' }],
      ['state=revoked (none)', { state: 'revoked' }],
    ];
    const statements = store.ops.statements;
    const rows = [];
    for (const [label, filter] of cases) {
      const options = { limit: 21, includeRevoked: false, ...filter };
      const times = [];
      let found = 0;
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        found = (await store.listKeys('org_bench', options)).length;
        times.push(performance.now() - t0);
      }
      rows.push({ filter: label, 'keys on the page': found, p50: msText(median(times)), max: msText(Math.max(...times)) });
    }
    const plan = (statement) =>
      store.db
        .prepare(`EXPLAIN QUERY PLAN ${statement.source}`)
        .all({ org: 'o', all: 0, created_at: 1, id: '', limit: 21, environment: 'test', name: 'bil', unused: 1, phrase: '"bil"', state: null, now: 0 })
        .map((r) => r.detail)
        .join('; ');
    return {
      title: `list_keys filters over ${KEYS.toLocaleString('en-US')} keys of one organization`,
      rows,
      notes: [
        `Seeded in ${msText(seedMs)} (one transaction). A page is 20 keys (21 read, to know whether a next page exists); 30 reads per filter, p50 and max.`,
        'A filtered list first checks the newest 2,000 keys in order; when they fill the page that is the answer, otherwise the most selective index answers.',
        `Plan, environment only: ${plan(statements.listByEnvironment)}.`,
        `Plan, name of 3+ characters (trigram index): ${plan(statements.listByName)}.`,
        `Plan, unused_since: ${plan(statements.listUnused)}.`,
        `Plan, state=disabled (a partial index; expired and revoked have theirs): ${plan(statements.listByState.disabled)}.`,
      ],
    };
  } finally {
    await store.close();
    cleanup();
  }
}
