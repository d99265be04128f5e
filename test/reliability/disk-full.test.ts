import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/core/tokens.js';
import { invariantViolations, query } from '../helpers/reliability-db.js';
import { ServeProcess, cliEnv, initDb, rest } from '../helpers/reliability-proc.js';

/**
 * The disk fills up under a running server (a small tmpfs, filled with a ballast file): writes
 * fail with the contract's INTERNAL_ERROR and nothing internal, the server stays up, says so to
 * health checks (503), loses none of the keys it confirmed, and works again as soon as space is freed —
 * without a restart. Needs a tmpfs mount (root on Linux); elsewhere the test is skipped.
 */

function tryMount(): string | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'dispersl-rel-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmdirSync(dir);
    return undefined;
  }
}

const mounted = tryMount();

describe.runIf(mounted !== undefined)('a disk that fills up under a running server', () => {
  const dir = mounted!;
  const db = join(dir, 'dispersl.db');
  const ballast = join(dir, 'ballast');
  let server: ServeProcess;
  let admin: string;

  beforeAll(async () => {
    ({ secret: admin } = await initDb(dir, db, ['--plan', 'enterprise', '--requests-per-hour', '1000000']));
    server = new ServeProcess(cliEnv(dir, { DISPERSL_DB: db }));
    await server.url();
  });

  afterAll(async () => {
    await server?.stop();
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      rmdirSync(dir);
    } catch {
      // left for the OS to clean: a busy mount must not fail the run
    }
  });

  it('refuses writes with INTERNAL_ERROR while full, keeps what it confirmed, and recovers when space returns', async () => {
    const base = await server.url();
    // Leave about 400 KiB free: room for some keys, then the disk is full.
    const { bavail, bsize } = statfsSync(dir);
    writeFileSync(ballast, Buffer.alloc(Math.max(0, bavail * bsize - 400 * 1024)));

    const confirmed: Array<{ id: string; secret: string }> = [];
    let failure: { status: number; json: unknown } | undefined;
    for (let i = 0; i < 2_000 && !failure; i++) {
      const a = await rest(base, 'POST', '/v1/api-keys', admin, { name: `filler ${i} ${'x'.repeat(90)}`, permissions: ['keys:read'] });
      if (a.status === 201) confirmed.push({ id: (a.json as { id: string }).id, secret: (a.json as { secret_key: string }).secret_key });
      else failure = { status: a.status, json: a.json };
    }
    if (process.env.DISPERSL_RELIABILITY_VERBOSE) console.log(confirmed.length, JSON.stringify(failure), server.stderr.split("\n").filter((l) => !l.includes(":201,")).join("\n").slice(-3000));
    expect(failure, 'the disk never filled').toBeDefined();
    expect(confirmed.length).toBeGreaterThan(0);
    expect(failure!.status).toBe(500);
    expect((failure!.json as { error: { type: string; message: string } }).error).toMatchObject({ type: 'INTERNAL_ERROR', message: 'Internal error' });
    // A health check tells a load balancer what clients would find: this server cannot write.
    const health = await rest(base, 'GET', '/healthz', undefined);
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({ status: 'unavailable' });
    // The client learns nothing internal; the operator's log says what happened.
    expect(server.stderr).toMatch(/"level":"error","msg":"request failed".*"error":"database or disk is full","code":"SQLITE_FULL"/);
    // Every failure names its cause, whichever write failed (the quota's or the key's).
    expect(server.stderr).not.toMatch(/"error":"Internal error"/);

    rmSync(ballast);
    expect((await rest(base, 'GET', '/healthz', undefined)).status).toBe(200);
    const after = await rest(base, 'POST', '/v1/api-keys', admin, { name: 'after the disk was freed' });
    expect(after.status).toBe(201);
    expect((await rest(base, 'GET', '/v1/me', (after.json as { secret_key: string }).secret_key)).status).toBe(200);

    const stored = new Map(query<{ id: string; hash: string }>(db, 'SELECT id, hash FROM keys').map((r) => [r.id, r.hash]));
    for (const key of confirmed) expect(stored.get(key.id), key.id).toBe(hashToken(key.secret));
    expect(invariantViolations(db)).toEqual([]);
    expect(server.stderr).not.toMatch(/pk_(live|test)_[0-9A-Za-z]{38}/);
  });
});
