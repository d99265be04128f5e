import { describe, expect, it } from 'vitest';
import { createWorld } from '../testing/fixtures.js';
import { REQUEST_STATE_TTL_MS, RequestStates, memoryRequestStateStore, storedRequestStateStore } from './request-state.js';

const binding = { principal: 'key_a', tool: 'revoke_key', args: { id: 'key_b', reason: { why: 'leak', at: 1 } } };

function states(now = { t: 1_000_000 }) {
  return { now, states: new RequestStates(memoryRequestStateStore(), () => now.t) };
}

describe('sealed requestState', () => {
  it('opens once what it sealed, with the state inside, whatever the key order of the arguments', async () => {
    const { states: s } = states();
    const token = await s.seal(binding, { step: 2 });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token).not.toContain('key_b');
    const reordered = { ...binding, args: { reason: { at: 1, why: 'leak' }, id: 'key_b' } };
    expect(await s.open(token, reordered)).toEqual({ ok: true, state: { step: 2 } });
    expect(await s.open(token, binding)).toEqual({ ok: false, reason: 'replayed' });
  });

  it('refuses a state after five minutes', async () => {
    const { now, states: s } = states();
    const token = await s.seal(binding, null);
    now.t += REQUEST_STATE_TTL_MS;
    expect(await s.open(token, binding)).toEqual({ ok: false, reason: 'expired' });
  });

  it("refuses another key's state, another tool's, and other arguments'", async () => {
    const { states: s } = states();
    const token = await s.seal(binding, null);
    expect(await s.open(token, { ...binding, principal: 'key_other' })).toEqual({ ok: false, reason: 'foreign' });
    expect(await s.open(token, { ...binding, tool: 'rotate_key' })).toEqual({ ok: false, reason: 'foreign' });
    expect(await s.open(token, { ...binding, args: { id: 'key_c' } })).toEqual({ ok: false, reason: 'foreign' });
    // A refused state is not used up: the right caller can still use it.
    expect((await s.open(token, binding)).ok).toBe(true);
  });

  it('refuses a forged or altered state, and one sealed under another secret', async () => {
    const { states: s } = states();
    const token = await s.seal(binding, null);
    const raw = Buffer.from(token, 'base64url');
    raw[raw.length - 1]! ^= 1;
    expect(await s.open(raw.toString('base64url'), binding)).toEqual({ ok: false, reason: 'forged' });
    expect(await states().states.open(token, binding)).toEqual({ ok: false, reason: 'forged' });
    for (const bad of ['', 'not base64!', 'AAAA', 42, null, 'A'.repeat(20_000)]) expect((await s.open(bad, binding)).ok).toBe(false);
  });

  it('shares the secret and the record of used states through the database', async () => {
    const world = await createWorld();
    try {
      const a = new RequestStates(storedRequestStateStore(world.store));
      const b = new RequestStates(storedRequestStateStore(world.store));
      const token = await a.seal(binding, 'x');
      expect(await b.open(token, binding)).toEqual({ ok: true, state: 'x' });
      expect(await a.open(token, binding)).toEqual({ ok: false, reason: 'replayed' });
    } finally {
      world.store.close();
    }
  });
});
