import { describe, expect, it } from 'vitest';
import { credential, databaseText, rejectionOf, worldsClosedAfterEach } from '../testing/fixtures.js';
import { SESSION_IDLE_MS, Sessions } from './sessions.js';

const world = worldsClosedAfterEach();

async function setUp() {
  const w = await world();
  const sessions = new Sessions(w.store, w.gate, w.clock.read);
  const admin = await w.callerOf(w.tenant.adminSecret);
  const keyWith = async (fields: Record<string, unknown>) => w.service.execute('generateKey', admin, { name: 'operator', ...fields });
  return { w, sessions, keyWith };
}

describe('Sessions', () => {
  it('hands out a random token and keeps only its hash', async () => {
    const { w, sessions } = await setUp();
    const first = await sessions.signIn(credential(w.tenant.adminSecret));
    const second = await sessions.signIn(credential(w.tenant.adminSecret));
    expect(first.token).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(second.token).not.toBe(first.token);
    expect(second.session.csrf).not.toBe(first.session.csrf);
    const stored = databaseText(w.store);
    for (const secret of [first.token, second.token, first.session.csrf, w.tenant.adminSecret]) expect(stored).not.toContain(secret);
  });

  it('resumes a session with the same anti-forgery token, and nothing for a token of the wrong shape', async () => {
    const { w, sessions } = await setUp();
    const { token, session } = await sessions.signIn(credential(w.tenant.adminSecret));
    expect(await sessions.resume(token, { ip: '127.0.0.1' })).toMatchObject({ csrf: session.csrf, caller: { key: { id: w.tenant.adminId } } });
    for (const wrong of [undefined, '', token.slice(1), `${token}x`, `${token.slice(1)}-`, w.tenant.adminSecret]) expect(await sessions.resume(wrong, { ip: '127.0.0.1' })).toBeUndefined();
  });

  it('ends when idle for 12 hours, not before', async () => {
    const { w, sessions } = await setUp();
    const { token } = await sessions.signIn(credential(w.tenant.adminSecret));
    w.clock.advance(SESSION_IDLE_MS - 1);
    expect(await sessions.resume(token, { ip: '127.0.0.1' })).toHaveProperty('csrf');
    w.clock.advance(SESSION_IDLE_MS);
    expect(await sessions.resume(token, { ip: '127.0.0.1' })).toBeUndefined();
  });

  it('ends for good when its key expires, saying why once', async () => {
    const { w, sessions, keyWith } = await setUp();
    const { secret } = await keyWith({ permissions: ['keys:read'], expires_in_seconds: 3_600 });
    const { token } = await sessions.signIn(credential(secret));
    w.clock.advance(3_600_000);
    expect(await sessions.resume(token, { ip: '127.0.0.1' })).toEqual({ ended: 'EXPIRED_API_KEY' });
    expect(await sessions.resume(token, { ip: '127.0.0.1' })).toBeUndefined();
  });

  it('checks the key’s IP allowlist at sign-in and on every request', async () => {
    const { sessions, keyWith } = await setUp();
    const { secret } = await keyWith({ permissions: ['keys:read'], allowed_ips: ['10.0.0.0/8'] });
    expect(await rejectionOf(sessions.signIn(credential(secret)))).toMatchObject({ type: 'IP_NOT_ALLOWED' });
    const { token } = await sessions.signIn(credential(secret, { ip: '10.1.2.3' }));
    expect(await sessions.resume(token, { ip: '10.1.2.3' })).toHaveProperty('csrf');
    expect(await sessions.resume(token, { ip: '192.0.2.1' })).toEqual({ ended: 'IP_NOT_ALLOWED' });
  });

  it('refuses a key that may not read keys, and records nothing for it', async () => {
    const { w, sessions, keyWith } = await setUp();
    const { secret } = await keyWith({ permissions: ['keys:verify'] });
    const events = w.count('audit_events');
    expect(await rejectionOf(sessions.signIn(credential(secret)))).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
    expect(w.count('sessions')).toBe(0);
    expect(w.count('audit_events')).toBe(events);
  });
});
