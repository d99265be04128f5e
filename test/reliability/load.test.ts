import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invariantViolations, tempDir } from '../helpers/reliability-db.js';
import { awayFromHourEdge } from '../helpers/reliability-http.js';
import { type LoadReport, reportMarkdown, runLoad } from '../helpers/reliability-load.js';
import { ServeProcess, cliEnv, freePort, initDb } from '../helpers/reliability-proc.js';

/**
 * The mixed load. `npm test` runs a short smoke of it (LOAD_SECONDS default 10); `npm run
 * reliability` runs 60 s and `npm run reliability:soak` 600 s, and both record their figures in
 * docs/reliability.md. Zero 5xx and zero failed connections always; a flat RSS after warm-up on
 * runs of a minute or more. Latency is recorded, never asserted (the machine is shared).
 */
const SECONDS = Number(process.env.DISPERSL_RELIABILITY_LOAD_SECONDS ?? '10');
const MODE = process.env.DISPERSL_RELIABILITY_LOAD_MODE ?? (SECONDS >= 600 ? 'soak' : SECONDS >= 60 ? 'load' : 'smoke');
const RECORD = process.env.DISPERSL_RELIABILITY_RECORD === '1';
const CLIENTS = 16;
const DOC = fileURLToPath(new URL('../../docs/reliability.md', import.meta.url));

/** Replaces the block between `<!-- figures:MODE:start -->` and its end marker in the doc. */
function record(mode: string, markdown: string): void {
  const doc = readFileSync(DOC, 'utf8');
  const start = `<!-- figures:${mode}:start -->`;
  const end = `<!-- figures:${mode}:end -->`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from === -1 || to === -1) throw new Error(`docs/reliability.md has no ${start} … ${end} block`);
  writeFileSync(DOC, `${doc.slice(0, from + start.length)}\n${markdown}\n${doc.slice(to)}`);
}

describe(`mixed load on loopback (${MODE}, ${SECONDS} s)`, () => {
  const tmp = tempDir('load');
  let server: ServeProcess;
  let key: string;
  let report: LoadReport;

  beforeAll(async () => {
    ({ secret: key } = await initDb(tmp.dir, tmp.db(), ['--plan', 'enterprise', '--requests-per-hour', '100000000', '--max-concurrency', '1000']));
    // warn: one access-log line per request would be most of what the run writes.
    server = new ServeProcess(cliEnv(tmp.dir, { DISPERSL_DB: tmp.db(), DISPERSL_LOG_LEVEL: 'warn' }), { port: await freePort() });
    await server.url();
  });

  afterAll(async () => {
    await server?.stop();
    tmp.cleanup();
  });

  it('answers every request without a 5xx or a dropped connection, and keeps the database sound', { timeout: (SECONDS + 120) * 1000 }, async () => {
    if (SECONDS < 600) await awayFromHourEdge();
    const base = await server.url();
    report = await runLoad({ base, key, serverPid: server.child.pid!, seconds: SECONDS, clients: CLIENTS, maxRequests: SECONDS * 5_000 });
    if (process.env.DISPERSL_RELIABILITY_VERBOSE || RECORD) console.log(JSON.stringify({ ...report, rss: { ...report.rss, samples: report.rss.samples.join(' ') } }, null, 1));
    const fiveHundreds = Object.entries(report.statuses).filter(([s]) => Number(s) >= 500);
    expect(fiveHundreds).toEqual([]);
    expect(report.networkErrors).toBe(0);
    // Only the outcomes the mix can produce: success, or a tool error inside a 200 / a 400 for a key another client revoked or rotated meanwhile.
    for (const status of Object.keys(report.statuses)) expect(['200', '201', '299', '400'], JSON.stringify(report.examples)).toContain(status);
    expect(report.requests).toBeGreaterThan(SECONDS * 10);
    expect(server.stderr).not.toMatch(/"level":"error"/);
    expect(invariantViolations(tmp.db())).toEqual([]);
  });

  it.runIf(SECONDS >= 60)('keeps the server RSS flat after warm-up', () => {
    // Flat: the last fifth of the steady samples is within 25% (and at least 24 MiB) of the first fifth.
    const allowed = Math.max(24, report.rss.afterWarmUpMiB * 0.25);
    expect(report.rss.growthMiB, `RSS samples (MiB): ${report.rss.samples.join(' ')}`).toBeLessThanOrEqual(allowed);
  });

  it.runIf(RECORD)('records its figures in docs/reliability.md', () => {
    const note = `${cpus().length} cores shared with other work (figures are noisy)`;
    record(MODE, reportMarkdown(MODE, report, new Date(), note));
    expect(readFileSync(DOC, 'utf8')).toContain(`Latest ${MODE} run:`);
  });
});
