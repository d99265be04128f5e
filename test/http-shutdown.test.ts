import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { type HttpAnswer, heldPost, rest, serve, sandboxEachTest } from './helpers/http-serve.js';
import { init } from './helpers/sandbox.js';

const box = sandboxEachTest();

function keyIds(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT id FROM keys').all() as Array<{ id: string }>).map((r) => r.id);
  } finally {
    db.close();
  }
}

const BIG = ['--plan', 'enterprise', '--requests-per-hour', '100000', '--max-concurrency', '1000'];

describe('graceful shutdown', () => {
  it('stops accepting on SIGTERM, finishes the requests in flight, and exits 0 with every write kept', async () => {
    const admin = await init(box(), BIG);
    const server = await serve(box());
    const held = Array.from({ length: 5 }, (_, i) => heldPost(server.url, '/v1/api-keys', admin.secret, { name: `in flight ${i}` }));
    // The five are admitted once they hold five of the key's concurrency slots.
    let inFlight = 0;
    for (const giveUp = Date.now() + 20_000; inFlight < 6 && Date.now() < giveUp; ) {
      const me = await rest(server.url, 'GET', '/v1/me', { key: admin.secret });
      inFlight = (me.json as { limits: { concurrency: { in_flight: number } } }).limits.concurrency.in_flight;
    }
    expect(inFlight).toBe(6);

    server.child.kill('SIGTERM');
    let refused: unknown;
    for (const giveUp = Date.now() + 20_000; refused === undefined && Date.now() < giveUp; ) {
      refused = await rest(server.url, 'GET', '/healthz').then(
        () => new Promise((resolve) => setTimeout(() => resolve(undefined), 20)),
        (err: unknown) => err,
      );
    }
    // Refused on connecting, or, for a request that went out on a kept-alive connection just as the
    // server closed its idle ones, reset: either way the stopping server took no new request.
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(String((refused as Error & { cause?: { code?: string } }).cause?.code));

    const answers = await Promise.all(held.map((h) => h.finish()));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    expect(await server.exit()).toEqual({ code: 0, signal: null });
    expect(server.logs().map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down: finishing in-flight requests', 'stopped']));
    // The database was closed cleanly: the write-ahead log is checkpointed into it and emptied.
    expect(existsSync(`${box().db}-wal`) ? statSync(`${box().db}-wal`).size : 0).toBe(0);
    const ids = keyIds(box().db);
    for (const answer of answers) expect(ids).toContain((answer.json as { id: string }).id);
    expect(ids).toHaveLength(6);
  });

  it('loses no answered write when SIGTERM lands in the middle of a burst', async () => {
    const admin = await init(box(), BIG);
    const server = await serve(box());
    let signalled = false;
    const burst = Array.from({ length: 60 }, (_, i) =>
      rest(server.url, 'POST', '/v1/api-keys', { key: admin.secret, headers: { connection: 'close' }, body: { name: `burst ${i}` } }).then(
        (answer: HttpAnswer) => {
          if (!signalled) {
            signalled = true;
            server.child.kill('SIGTERM');
          }
          return answer;
        },
        (err: unknown) => err as Error,
      ),
    );
    const outcomes = await Promise.all(burst);
    expect(await server.exit()).toEqual({ code: 0, signal: null });
    const answered = outcomes.filter((o): o is HttpAnswer => !(o instanceof Error));
    // Whatever was answered was answered in full; the rest never got in.
    expect(answered.every((a) => a.status === 201)).toBe(true);
    expect(answered.length).toBeGreaterThan(0);
    const ids = keyIds(box().db);
    for (const answer of answered) expect(ids).toContain((answer.json as { id: string }).id);
    expect(ids).toHaveLength(1 + answered.length);
  });
});
