// Helpers shared by the benchmarks: temp databases, timing loops and statistics.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The repository root, so benchmarks can spawn dist/cli/main.js wherever they are run from. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** A fresh temp folder, removed by the returned cleanup. */
export function tempDir(prefix = 'dispersl-bench-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Creates a database file holding an enterprise organization whose limits never bind during a
 * benchmark, and returns its admin key. `extraKeys` adds keys (keys:read) and returns their tokens too.
 */
export async function seedDatabase(dbPath, { extraKeys = 0 } = {}) {
  const { openLocal } = await import('../dist/cli/local.js');
  const local = await openLocal(dbPath);
  try {
    const { organization, key, secret } = await local.service.createOrganization({
      name: 'Benchmark',
      plan: 'enterprise',
      requests_per_hour: 1_000_000_000,
      max_concurrency: 1_000_000,
    });
    const extra = [];
    if (extraKeys > 0) {
      const admission = await local.gate.admit({ token: secret, ip: '127.0.0.1' });
      try {
        for (let i = 0; i < extraKeys; i++) {
          extra.push((await local.service.execute('generateKey', admission.caller, { name: `bench ${i}`, permissions: ['keys:read'] })).secret);
        }
      } finally {
        admission.release();
      }
    }
    return { orgId: organization.id, keyId: key.id, token: secret, extraTokens: extra };
  } finally {
    await local.store.close();
  }
}

/**
 * Runs `op` for `ms` milliseconds with `concurrency` callers, each awaiting its call before issuing the
 * next, as a server's requests would. Returns the calls completed, the elapsed time and each latency (ms).
 */
export async function drive(op, { ms, concurrency = 1, latencies = true }) {
  const samples = [];
  let count = 0;
  const start = performance.now();
  const end = start + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await op();
      if (latencies) samples.push(performance.now() - t0);
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - start;
  return { count, elapsed, perSecond: (count * 1000) / elapsed, latencies: samples };
}

/** The q-quantile (0..1) of numbers, by nearest rank on a sorted copy. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export const median = (values) => quantile(values, 0.5);

/** 12,345 for rates and counts. */
export const int = (n) => Math.round(n).toLocaleString('en-US');

/** Milliseconds with a precision that suits their size. */
export function msText(n) {
  if (!Number.isFinite(n)) return '–';
  if (n < 1) return `${n.toFixed(3)} ms`;
  if (n < 10) return `${n.toFixed(2)} ms`;
  return `${n.toFixed(1)} ms`;
}

export const ratio = (n) => `${n.toFixed(2)}×`;
