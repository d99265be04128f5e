import { describe, expect, it } from 'vitest';
import { NOON, type World, credential, worldsClosedAfterEach, rejectionOf } from '../testing/fixtures.js';
import type { AccessTokenVerifier } from './access-tokens.js';
import { Gate } from './auth.js';

/**
 * The gate reads each key once per batch (the admits of one event-loop turn) and writes its counter
 * once; these pin down that this changes nothing a caller can see.
 */

const world = worldsClosedAfterEach();

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const ACCESS_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXkifQ.c2lnbmF0dXJl';

describe('Gate: admits counted together in one turn', () => {
  it('charges each key for its own admits and refuses a revoked key without holding the others back', async () => {
    const w = await world({ plan: 'enterprise', requests_per_hour: 100, max_concurrency: 100 });
    const admin = await w.callerOf(w.tenant.adminSecret);
    const a = await w.service.execute('generateKey', admin, { name: 'a' });
    const b = await w.service.execute('generateKey', admin, { name: 'b' });
    const revoked = await w.service.execute('generateKey', admin, { name: 'revoked' });
    await w.service.execute('revokeKey', admin, { id: revoked.key.id });

    const tokens = [a.secret, revoked.secret, b.secret, a.secret, a.secret, revoked.secret, b.secret];
    const results = await Promise.allSettled(tokens.map((token) => w.gate.admit(credential(token))));

    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.caller.key.id : (r.reason as { type: string }).type))).toEqual([
      a.key.id,
      'REVOKED_API_KEY',
      b.key.id,
      a.key.id,
      a.key.id,
      'REVOKED_API_KEY',
      b.key.id,
    ]);
    const remainingOfA = results.filter((_, i) => tokens[i] === a.secret).map((r) => (r.status === 'fulfilled' ? r.value.caller.window.remaining : -1));
    expect(remainingOfA).toEqual([99, 98, 97]);
    expect((await w.gate.peek(credential(a.secret))).window.remaining).toBe(97);
    expect((await w.gate.peek(credential(b.secret))).window.remaining).toBe(98);
  });

  it('charges a key once per admit when one turn reaches it both by its own token and by an access token', async () => {
    const w = await world({ plan: 'enterprise', requests_per_hour: 5, max_concurrency: 100 });
    const verifier: AccessTokenVerifier = { verify: async () => ({ keyId: w.tenant.adminId, scopes: ['keys:read'], expiresAt: NOON + 60_000 }) };
    const gate = new Gate(w.store, w.clock.read, { accessTokens: verifier });

    const results = await Promise.allSettled(
      [1, 2, 3, 4].flatMap(() => [gate.admit(credential(w.tenant.adminSecret)), gate.admit(credential(ACCESS_TOKEN))]),
    );

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ type: 'RATE_LIMIT_EXCEEDED' });
    expect(await rejectionOf(gate.admit(credential(w.tenant.adminSecret)))).toMatchObject({ type: 'RATE_LIMIT_EXCEEDED' });
    expect((await gate.peek(credential(w.tenant.adminSecret))).window.remaining).toBe(0);
  });

  it('with at most one flush under way, sends the admits that arrive meanwhile together in the next flush, counting every one', async () => {
    const w = await world({ plan: 'enterprise', requests_per_hour: 1_000, max_concurrency: 1_000 });
    const batches: number[] = [];
    const store = w.store;
    const counting = Object.create(store) as typeof store;
    counting.chargeBatch = (refs, decide, at) => {
      batches.push(refs.length);
      // A store over a network: the flush ends some turns later.
      return new Promise((resolve, reject) => setTimeout(() => store.chargeBatch(refs, decide, at).then(resolve, reject), 5));
    };
    const gate = new Gate(counting, w.clock.read, { flushesInFlight: 1 });

    const first = gate.admit(credential(w.tenant.adminSecret));
    await new Promise((resolve) => setImmediate(resolve));
    // The first flush is under way: these wait for it, over several turns, and then go as one batch.
    const rest: Array<Promise<unknown>> = [];
    for (let turn = 0; turn < 3; turn++) {
      for (let i = 0; i < 4; i++) rest.push(gate.admit(credential(w.tenant.adminSecret)));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([first, ...rest]);

    expect(batches).toEqual([1, 12]);
    expect((await gate.peek(credential(w.tenant.adminSecret))).window.remaining).toBe(1_000 - 13);
  });

  /** A gate whose store records how many requests each flush carried, and how many slots the database holds. */
  function countingGate(w: World) {
    const batches: number[] = [];
    const store = w.store;
    const counting = Object.create(store) as typeof store;
    counting.chargeBatch = (refs, decide, at, context) => {
      batches.push(refs.length);
      return store.chargeBatch(refs, decide, at, context);
    };
    const slots = () => store.db.prepare('SELECT coalesce(sum(n), 0) FROM slots').pluck().get() as number;
    return { gate: new Gate(counting, w.clock.read, { flushesInFlight: 2 }), batches, slots };
  }

  it('writes a released slot with the next request’s flush, and with a flush of its own soon after when none comes', async () => {
    const w = await world({ plan: 'enterprise', requests_per_hour: 1_000, max_concurrency: 1_000 });
    const { gate, batches, slots } = countingGate(w);

    for (let i = 0; i < 10; i++) (await gate.admit(credential(w.tenant.adminSecret))).release();
    expect(batches).toEqual(Array(10).fill(1));
    expect(slots()).toBe(1);
    while (slots() !== 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(batches).toEqual([...Array(10).fill(1), 0]);
  });

  it('writes the release of a key near its limit (more than half of it in flight) with a flush due at once', async () => {
    const w = await world({ plan: 'enterprise', requests_per_hour: 1_000, max_concurrency: 1 });
    const { gate, batches, slots } = countingGate(w);

    (await gate.admit(credential(w.tenant.adminSecret))).release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([1, 0]);
    expect(slots()).toBe(0);
  });

  it('writes a count again when two flushes committed in another order than their answers came back', async () => {
    const w = await world({ plan: 'enterprise', requests_per_hour: 1_000, max_concurrency: 1_000 });
    const store = w.store;
    const slots = () => store.db.prepare('SELECT coalesce(sum(n), 0) FROM slots').pluck().get() as number;
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const [decided, otherCommitted, staleCommitted] = [deferred(), deferred(), deferred()];
    let reorder = false;
    // While `reorder` is on: the slots-only flush decides first but commits after the next flush, and its
    // answer comes back first (as two PostgreSQL transactions can, one waiting on the other's row lock).
    const racing = Object.create(store) as typeof store;
    racing.chargeBatch = async (refs, decide, at, context) => {
      if (!reorder) return store.chargeBatch(refs, decide, at, context);
      if (refs.length === 0) {
        const early = decide([], at!, new Map());
        decided.resolve();
        await otherCommitted.promise;
        const out = await store.chargeBatch(refs, () => early, at, context);
        staleCommitted.resolve();
        return out;
      }
      const out = await store.chargeBatch(refs, decide, at, context);
      otherCommitted.resolve();
      await staleCommitted.promise;
      for (let i = 0; i < 5; i++) await turn();
      return out;
    };
    const gate = new Gate(racing, w.clock.read, { flushesInFlight: 2 });

    const first = await Promise.all([1, 2, 3].map(() => gate.admit(credential(w.tenant.adminSecret))));
    expect(slots()).toBe(3);
    reorder = true;
    first[0]!.release();
    first[1]!.release();
    await decided.promise; // the slots-only flush has decided on 1 in flight
    const more = await gate.admit(credential(w.tenant.adminSecret));
    reorder = false;
    // The other flush wrote 2 in flight; the stale count (1) committed after it. It is written again, so
    // the other processes see the 2 in flight, not 1 (which would let them admit one too many).
    for (let i = 0; i < 100 && slots() !== 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(slots()).toBe(2);
    first[2]!.release();
    more.release();
  });
});
