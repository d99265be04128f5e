import { describe, expect, it } from 'vitest';
import type { Session } from './helpers/mcp-client.js';
import { awayFromHourEdge, init } from './helpers/sandbox.js';
import { useWorkspace } from './helpers/workspace.js';

const ws = useWorkspace();

type Whoami = { limits: { hourly: { limit: number; remaining: number; reset_at: string } } };

/** Calls whoami until refused (at most `cap` times); the remaining counts it saw, and the refusal. */
async function drain(session: Session, cap: number) {
  const remaining: number[] = [];
  for (let i = 0; i < cap; i++) {
    const outcome = await session.call('whoami');
    if (!outcome.ok) return { remaining, refusal: outcome.error };
    remaining.push((outcome.data as Whoami).limits.hourly.remaining);
  }
  throw new Error(`still admitted after ${cap} calls`);
}

describe('MCP over stdio: the hourly quota', () => {
  it('admits a free test key exactly 10 calls, then answers RATE_LIMIT_EXCEEDED; initialize, ping and tools/list cost nothing', async () => {
    await awayFromHourEdge();
    const admin = await init(ws.box);
    const s = await ws.connect({ key: admin.secret });
    const test = (await s.ok('generate_key', { name: 'dev', environment: 'test' })) as { secret: string };

    const t = await ws.connect({ key: test.secret });
    for (let i = 0; i < 5; i++) {
      await t.client.ping();
      expect(await t.toolNames()).toContain('whoami');
    }
    const { remaining, refusal } = await drain(t, 20);
    expect(remaining).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(refusal).toMatchObject({ code: 429, type: 'RATE_LIMIT_EXCEEDED', details: { limit: 10, remaining: 0 } });
    const retryAfter = refusal.details.retry_after as number;
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3_600).toBe(true);
    expect(Date.parse(refusal.details.reset_at as string)).toBeGreaterThan(Date.now());

    expect(await t.toolNames()).toContain('whoami'); // listing still answers once the quota is spent
    expect((await t.fail('list_keys')).type).toBe('RATE_LIMIT_EXCEEDED');
    // The count lives in the database: a restarted server (and any other process) sees it.
    await t.close();
    const again = await ws.connect({ key: test.secret });
    expect((await again.fail('whoami')).type).toBe('RATE_LIMIT_EXCEEDED');
    expect(await s.ok('whoami')).toMatchObject({ limits: { hourly: { limit: 100, remaining: 98 } } });
  }, 90_000);

  it('never admits more than the quota to two processes charging one key at once, and admits all of it', async () => {
    await awayFromHourEdge();
    const admin = await init(ws.box, ['--plan', 'enterprise', '--requests-per-hour', '40', '--max-concurrency', '4']);
    const [p, q] = await Promise.all([ws.connect({ key: admin.secret }), ws.connect({ key: admin.secret })]);
    // Two loops in each process, so four requests race for the same counter.
    const runs = await Promise.all([drain(p, 60), drain(p, 60), drain(q, 60), drain(q, 60)]);
    const seen = runs.flatMap((r) => r.remaining).sort((a, b) => a - b);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i));
    for (const run of runs) expect(run.refusal).toMatchObject({ code: 429, type: 'RATE_LIMIT_EXCEEDED', details: { limit: 40 } });
  }, 90_000);
});

describe('MCP over stdio: changes made by another process', () => {
  it('sees a key disabled, enabled and revoked by another process at its next call', async () => {
    const admin = await init(ws.box);
    const a = await ws.connect({ key: admin.secret });
    const made = (await a.ok('generate_key', { name: 'worker', permissions: ['keys:read'] })) as { key: { id: string }; secret: string };
    const b = await ws.connect({ key: made.secret });
    expect(await b.ok('whoami')).toMatchObject({ key: { id: made.key.id } });

    await a.ok('update_key', { id: made.key.id, enabled: false });
    expect(await b.fail('whoami')).toMatchObject({ code: 401, type: 'DISABLED_API_KEY' });
    await a.ok('update_key', { id: made.key.id, enabled: true });
    expect(await b.ok('list_keys')).toMatchObject({ keys: expect.any(Array) });
    await a.ok('revoke_key', { id: made.key.id });
    expect(await b.fail('whoami')).toMatchObject({ code: 401, type: 'REVOKED_API_KEY' });
    expect(await b.fail('list_keys')).toMatchObject({ type: 'REVOKED_API_KEY' });
  });

  it('sees a key rotated away by another process: the old secret stops at once with grace 0, the new one works', async () => {
    const admin = await init(ws.box);
    const a = await ws.connect({ key: admin.secret });
    const made = (await a.ok('generate_key', { name: 'svc' })) as { key: { id: string }; secret: string };
    const b = await ws.connect({ key: made.secret });
    await b.ok('whoami');
    const rotated = (await a.ok('rotate_key', { id: made.key.id, grace_period_seconds: 0 })) as { key: { id: string }; secret: string };
    expect((await b.fail('whoami')).type).toBe('REVOKED_API_KEY');
    const c = await ws.connect({ key: rotated.secret });
    expect(await c.ok('whoami')).toMatchObject({ key: { id: rotated.key.id, name: 'svc', rotated_from: made.key.id } });
  });
});
