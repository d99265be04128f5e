import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/core/tokens.js';
import { invariantViolations, query, tempDir } from '../helpers/reliability-db.js';
import { awayFromHourEdge, sleep } from '../helpers/reliability-http.js';
import { type HttpAnswer, ServeProcess, StdioProcess, cliEnv, initDb, rest } from '../helpers/reliability-proc.js';

/**
 * SIGKILL a server in the middle of a write load, restart it on the same file, and check that
 * every write whose answer reached the client is there in full, that nothing is half-applied,
 * and that the quota counter is consistent with what was sent and answered.
 */

interface KeyRow {
  id: string;
  hash: string;
  name: string;
  revoked_at: number | null;
  expires_at: number | null;
  rotated_to: string | null;
  rotated_from: string | null;
}

type Write =
  | { op: 'generate'; name: string }
  | { op: 'revoke'; id: string }
  | { op: 'rotate'; id: string; grace: number }
  | { op: 'update'; id: string; name: string };

interface Sent {
  write: Write;
  /** When the request left and when its answer came back, on one counter shared by all clients. */
  sentAt: number;
  answeredAt?: number;
  answer?: { status: number; body: unknown };
}

let clock = 0;
const tick = () => ++clock;

function rows(db: string): Map<string, KeyRow> {
  return new Map(query<KeyRow>(db, 'SELECT id, hash, name, revoked_at, expires_at, rotated_to, rotated_from FROM keys').map((r) => [r.id, r]));
}

/** The checks shared by both transports: each answered write is present in full. */
function checkAnswered(db: string, sent: Sent[]): { answered: number } {
  const keys = rows(db);
  let answered = 0;
  // Any rename of the key that had not been answered when this write was sent may have been applied
  // after it (concurrent requests commit in any order): any of those names is right.
  const renames = (id: string, since: number) =>
    sent.flatMap((s) => (s.write.op === 'update' && s.write.id === id && (s.answeredAt ?? Infinity) >= since ? [s.write.name] : []));
  for (const { write, answer, sentAt } of sent) {
    if (!answer) continue;
    answered++;
    if (answer.status >= 300) continue;
    const body = answer.body as Record<string, unknown>;
    switch (write.op) {
      case 'generate': {
        const id = (body.id ?? (body.key as { id: string }).id) as string;
        const secret = (body.secret_key ?? body.secret) as string;
        const row = keys.get(id);
        expect(row, `generated ${id}`).toBeDefined();
        expect(row!.hash).toBe(hashToken(secret));
        expect([write.name, ...renames(id, sentAt)]).toContain(row!.name);
        break;
      }
      case 'revoke':
        expect(keys.get(write.id)?.revoked_at, `revoked ${write.id}`).not.toBeNull();
        break;
      case 'rotate': {
        const next = body.key as { id: string };
        const old = keys.get(write.id)!;
        expect(old.rotated_to, `rotated ${write.id}`).toBe(next.id);
        expect(keys.get(next.id)?.rotated_from).toBe(write.id);
        expect(keys.get(next.id)?.hash).toBe(hashToken(body.secret as string));
        if (write.grace === 0) expect(old.revoked_at).not.toBeNull();
        else expect(old.expires_at).not.toBeNull();
        break;
      }
      case 'update':
        expect(renames(write.id, sentAt), `renamed ${write.id}`).toContain(keys.get(write.id)?.name);
        break;
    }
  }
  return { answered };
}

/** A random mix of writes on a shared pool of key ids. */
function nextWrite(pool: string[], n: number): Write {
  const id = pool[Math.floor(Math.random() * pool.length)]!;
  const roll = Math.random();
  if (roll < 0.4) return { op: 'generate', name: `crash ${n}` };
  if (roll < 0.6) return { op: 'revoke', id };
  if (roll < 0.85) return { op: 'rotate', id, grace: Math.random() < 0.5 ? 0 : 3600 };
  return { op: 'update', id, name: `renamed ${n}` };
}

describe('crash safety', () => {
  const tmp = tempDir('crash');
  afterAll(async () => tmp.cleanup());

  describe('SIGKILL of serve during a loopback write load', () => {
    const db = tmp.db('serve.db');
    let admin: { secret: string; keyId: string };
    let server: ServeProcess;
    const sent: Sent[] = [];
    let window = 0;

    beforeAll(async () => {
      admin = await initDb(tmp.dir, db, ['--plan', 'enterprise', '--requests-per-hour', '1000000', '--max-concurrency', '1000']);
      window = await awayFromHourEdge();
      server = new ServeProcess(cliEnv(tmp.dir, { DISPERSL_DB: db }));
    });
    afterAll(async () => {
      server.kill();
      await server.exited;
    });

    it('keeps every answered write, applies none by half, and counts the quota consistently', async () => {
      const base = await server.url();
      const pool: string[] = [];
      /** One write; false when the connection failed (the server is gone). */
      const send = async (write: Write): Promise<boolean> => {
        const entry: Sent = { write, sentAt: tick() };
        sent.push(entry);
        let answer: HttpAnswer;
        try {
          if (write.op === 'generate') answer = await rest(base, 'POST', '/v1/api-keys', admin.secret, { name: write.name });
          else if (write.op === 'revoke') answer = await rest(base, 'DELETE', `/v1/keys/${write.id}`, admin.secret);
          else if (write.op === 'rotate') answer = await rest(base, 'POST', `/v1/keys/${write.id}/rotate`, admin.secret, { grace_period_seconds: write.grace });
          else answer = await rest(base, 'PATCH', `/v1/keys/${write.id}`, admin.secret, { name: write.name });
        } catch {
          return false; // the server died before answering: this write may or may not have happened
        }
        entry.answeredAt = tick();
        entry.answer = { status: answer.status, body: answer.json };
        const body = answer.json as { id?: string; key?: { id: string } };
        if (answer.status < 300 && write.op === 'generate') pool.push(body.id!);
        if (answer.status < 300 && write.op === 'rotate') pool.push(body.key!.id);
        return true;
      };
      for (let i = 0; i < 20; i++) await send({ op: 'generate', name: `seed ${i}` });

      // Eight clients write as fast as they can, each until its connection fails: the kill lands
      // while they write, and every client ends with one write the dead server never answered.
      let n = 0;
      const answeredSoFar = () => sent.filter((s) => s.answer).length;
      const worker = async () => {
        while (n < 5_000 && (await send(nextWrite(pool, n++))));
      };
      const workers = Array.from({ length: 8 }, worker);
      const killer = (async () => {
        for (let i = 0; i < 2_000 && answeredSoFar() < 220; i++) await sleep(10);
        server.kill('SIGKILL');
      })();
      await Promise.all([killer, ...workers]);
      const exit = await server.exited;
      expect(exit.signal).toBe('SIGKILL');
      const unanswered = sent.filter((s) => !s.answer).length;
      // The kill landed mid-load: some requests were in flight and never answered.
      expect(unanswered).toBeGreaterThan(0);

      // Nothing is half-applied: every rule of the database holds after the crash, before any restart.
      expect(invariantViolations(db)).toEqual([]);
      const { answered } = checkAnswered(db, sent);
      expect(answered).toBeGreaterThanOrEqual(220);
      for (const s of sent) if (s.answer) expect(s.answer.status, JSON.stringify(s.answer.body)).toBeLessThan(500);

      // Each answered request was charged; no request was charged that was never sent.
      const usage = query<{ hour_window: number; hour_count: number }>(db, 'SELECT hour_window, hour_count FROM usage WHERE key_id = ?', admin.keyId)[0]!;
      if (usage.hour_window === window) {
        expect(usage.hour_count).toBeGreaterThanOrEqual(answered);
        expect(usage.hour_count).toBeLessThanOrEqual(answered + unanswered);
      }

      // The restarted server serves the same state: the keys issued before the crash authenticate.
      server = new ServeProcess(cliEnv(tmp.dir, { DISPERSL_DB: db }));
      const again = await server.url();
      const live = sent.find((s) => s.write.op === 'generate' && s.answer?.status === 201 && !rows(db).get((s.answer.body as { id: string }).id)?.revoked_at);
      if (live) {
        const me = await rest(again, 'GET', '/v1/me', (live.answer!.body as { secret_key: string }).secret_key);
        expect(me.status).toBe(200);
      }
      const list = await rest(again, 'GET', '/v1/keys?include_revoked=true&limit=100', admin.secret);
      expect(list.status).toBe(200);
      expect(invariantViolations(db)).toEqual([]);
    });
  });

  describe('SIGKILL of a stdio server during pipelined tool calls', () => {
    it('keeps every answered write and applies none by half', async () => {
      const db = tmp.db('stdio.db');
      const admin = await initDb(tmp.dir, db, ['--plan', 'enterprise', '--requests-per-hour', '1000000', '--max-concurrency', '1000']);
      const window = await awayFromHourEdge();
      const server = new StdioProcess(cliEnv(tmp.dir, { DISPERSL_DB: db, DISPERSL_API_KEY: admin.secret }));
      await server.initialize();
      const pool: string[] = [];
      for (let i = 0; i < 20; i++) {
        const out = await server.call('generate_key', { name: `seed ${i}` });
        if (out.ok) pool.push((out.value.key as { id: string }).id);
      }
      const sent: Sent[] = [];
      const calls: Promise<void>[] = [];
      // Many calls are written at once, so the kill lands with a queue of requests in the pipe.
      for (let n = 0; n < 600; n++) {
        const write = nextWrite(pool, n);
        const entry: Sent = { write, sentAt: tick() };
        sent.push(entry);
        const [tool, args] =
          write.op === 'generate'
            ? ['generate_key', { name: write.name }]
            : write.op === 'revoke'
              ? ['revoke_key', { id: write.id }]
              : write.op === 'rotate'
                ? ['rotate_key', { id: write.id, grace_period_seconds: write.grace }]
                : ['update_key', { id: write.id, name: write.name }];
        calls.push(
          server.call(tool as string, args as Record<string, unknown>, 20_000).then(
            (out) => {
              entry.answeredAt = tick();
              entry.answer = out.ok ? { status: 200, body: out.value } : { status: 'error' in out ? out.error.code : 500, body: out.text };
            },
            () => undefined,
          ),
        );
        if (n === 300) {
          for (let i = 0; i < 2_000 && sent.filter((s) => s.answer).length < 100; i++) await sleep(5);
          server.kill('SIGKILL');
        }
      }
      await server.exited;
      await Promise.race([Promise.allSettled(calls), sleep(100)]);
      expect(invariantViolations(db)).toEqual([]);
      const { answered } = checkAnswered(db, sent);
      expect(answered).toBeGreaterThan(0);
      expect(answered).toBeLessThan(sent.length);
      const usage = query<{ hour_window: number; hour_count: number }>(db, 'SELECT hour_window, hour_count FROM usage WHERE key_id = ?', admin.keyId)[0]!;
      if (usage.hour_window === window) {
        expect(usage.hour_count).toBeGreaterThanOrEqual(20 + answered);
        expect(usage.hour_count).toBeLessThanOrEqual(20 + sent.length);
      }
    });
  });
});
