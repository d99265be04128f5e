// The dashboard's pages against the REST requests a client-side dashboard would make for the same
// view, on one serve process: a key's page (the key, 48 hourly and 90 daily usage buckets, its last
// 20 events) against those four REST reads made at once; the keys page against GET /v1/keys.
import { join } from 'node:path';
import { drive, int, median, quantile, ratio, seedDatabase, tempDir } from './lib.js';
import { alternateRounds, startServe, stop } from './http-lib.js';

const ROUNDS = 5;
const MS = 3_000;
const CONCURRENCY = 4;
const TARGET = 0.5;

async function ok(response) {
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${response.url} answered ${response.status}`);
}

export default async function dashboardBench({ log }) {
  const { dir, cleanup } = tempDir();
  let server;
  try {
    const dbPath = join(dir, 'bench.db');
    const { token, keyId, extraTokens } = await seedDatabase(dbPath, { extraKeys: 30 });
    server = await startServe(dbPath, dir);
    const { url } = server;
    const auth = { authorization: `Bearer ${token}` };
    // Usage and events to draw: requests by every key, a few changes by the admin key.
    for (const t of extraTokens) for (let i = 0; i < 5; i++) await ok(await fetch(`${url}/v1/keys?limit=1`, { headers: { authorization: `Bearer ${t}` } }));
    for (let i = 0; i < 5; i++) await ok(await fetch(`${url}/v1/keys/${keyId}`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: `Admin ${i}` }) }));
    const signIn = await fetch(`${url}/dashboard/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { origin: url, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: token }).toString(),
    });
    const cookie = signIn.headers.getSetCookie()[0].split(';')[0];
    const page = { cookie, 'accept-encoding': 'gzip' };
    const now = Date.now();
    const since = (ms) => new Date(now - ms).toISOString();
    const views = [
      { label: 'REST: the key, its usage by hour and by day, its events (4 requests at once)', run: () => Promise.all([
        fetch(`${url}/v1/keys/${keyId}`, { headers: auth }).then(ok),
        fetch(`${url}/v1/usage?key_id=${keyId}&granularity=hour&from=${since(47 * 3_600_000)}`, { headers: auth }).then(ok),
        fetch(`${url}/v1/usage?key_id=${keyId}&granularity=day&from=${since(89 * 86_400_000)}`, { headers: auth }).then(ok),
        fetch(`${url}/v1/events?key_id=${keyId}&limit=20`, { headers: auth }).then(ok),
      ]) },
      { label: 'dashboard: the key page, rendered (gzip)', run: () => fetch(`${url}/dashboard/keys/${keyId}`, { headers: page }).then(ok) },
      { label: 'REST: GET /v1/keys?limit=50', run: () => fetch(`${url}/v1/keys?limit=50`, { headers: auth }).then(ok) },
      { label: 'dashboard: the keys page, rendered (gzip)', run: () => fetch(`${url}/dashboard`, { headers: page }).then(ok) },
    ];
    for (const v of views) await drive(v.run, { ms: 500, concurrency: CONCURRENCY });
    const samples = await alternateRounds({
      count: views.length,
      rounds: ROUNDS,
      measure: async (i) => {
        const r = await drive(views[i].run, { ms: MS, concurrency: CONCURRENCY });
        return { rps: r.perSecond, p50: quantile(r.latencies, 0.5), p99: quantile(r.latencies, 0.99), failed: 0 };
      },
      label: (i) => views[i].label,
      log,
    });
    const ratios = (page, rest) => samples[page].map((s, round) => s.rps / samples[rest][round].rps);
    const rows = views.map((v, i) => ({
      view: v.label,
      'views/s (median)': int(median(samples[i].map((s) => s.rps))),
      p50: `${median(samples[i].map((s) => s.p50)).toFixed(2)} ms`,
      p99: `${median(samples[i].map((s) => s.p99)).toFixed(2)} ms`,
    }));
    const keyPage = median(ratios(1, 0));
    const keysPage = median(ratios(3, 2));
    rows.push({ view: 'key page ÷ its REST reads (median of per-round ratios)', 'views/s (median)': ratio(keyPage), p50: '', p99: '' });
    rows.push({ view: 'keys page ÷ GET /v1/keys', 'views/s (median)': ratio(keysPage), p50: '', p99: '' });
    return {
      title: 'Dashboard pages vs the REST reads of the same view',
      rows,
      notes: [
        `${CONCURRENCY} callers in the benchmark's own process (Node fetch, keep-alive), ${MS / 1000} s a round, ${ROUNDS} rounds, alternating, after a warm-up; loopback only. One serve process, access log off, 31 keys with usage and events.`,
        'A page view checks the session (a read of its row; its expiry is written at most once a minute) and the key, runs the same operations as REST (uncharged), renders HTML with SVG charts and compresses it; the REST view is what a client-side dashboard would fetch before drawing anything.',
        `Target: the key page ≥ ${TARGET}× its REST reads; ${keyPage >= TARGET ? 'met' : 'NOT met'} in this run.`,
      ],
    };
  } finally {
    if (server) await stop(server.child);
    cleanup();
  }
}
