import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { Gate } from '../core/auth.js';
import { HOUR_MS } from '../core/limits.js';
import { KeyService } from '../core/service.js';
import { SqliteStore } from '../store/sqlite.js';
import { ManualClock, type World, createWorld, credential, databaseText, rejectionOf } from '../testing/fixtures.js';
import { AccessTokens, TOKEN_LIFETIME_SECONDS } from './access-tokens.js';

const BASE = 'http://127.0.0.1:8787';
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0)) fn();
});

interface Setup {
  w: World;
  tokens: AccessTokens;
  /** A gate that accepts access tokens, on the same store and clock as the world. */
  gate: Gate;
}

async function setup(options: { path?: string; clock?: ManualClock; issuer?: string } = {}): Promise<Setup> {
  const w = await createWorld({ plan: 'pro', ...(options.path && { path: options.path }), ...(options.clock && { clock: options.clock }) });
  cleanups.push(() => w.store.close());
  const tokens = new AccessTokens(w.store, { issuer: options.issuer ?? BASE, clock: w.clock.read });
  return { w, tokens, gate: new Gate(w.store, w.clock.read, { accessTokens: tokens }) };
}

async function adminToken(s: Setup, scopes: string[] = ['admin'], audience = BASE): Promise<string> {
  const caller = await s.w.callerOf(s.w.tenant.adminSecret);
  return (await s.tokens.issue(caller.key, scopes, audience)).access_token;
}

/** Flips one character of the signature, keeping it valid base64url. */
function tamper(token: string): string {
  const at = token.length - 5;
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

describe('AccessTokens: what a token carries', () => {
  it('signs a JWT naming the key, its scopes, this issuer and audience, for an hour', async () => {
    const s = await setup();
    const caller = await s.w.callerOf(s.w.tenant.adminSecret);
    const issued = await s.tokens.issue(caller.key, ['keys:read'], `${BASE}/mcp`);
    expect(issued).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: 'keys:read' });
    const header = decodeProtectedHeader(issued.access_token);
    expect(header).toMatchObject({ alg: 'HS256', typ: 'at+jwt' });
    expect(header.kid).toMatch(/^sk_/);
    const claims = decodeJwt(issued.access_token);
    expect(claims).toMatchObject({ iss: BASE, aud: `${BASE}/mcp`, sub: s.w.tenant.adminId, client_id: s.w.tenant.adminId, scope: 'keys:read' });
    expect(claims.exp! - claims.iat!).toBe(TOKEN_LIFETIME_SECONDS);
    expect(claims.iat).toBe(Math.floor(s.w.clock.now / 1000));
    expect(typeof claims.jti).toBe('string');
    expect(issued.access_token).not.toContain(s.w.tenant.adminSecret);
  });

  it('never outlives a key that expires sooner than an hour', async () => {
    const s = await setup();
    const admin = await s.w.callerOf(s.w.tenant.adminSecret);
    const short = (await s.w.service.execute('generateKey', admin, { name: 'short', permissions: ['keys:read'], expires_in_seconds: 600 }));
    const issued = await s.tokens.issue((await s.w.callerOf(short.secret)).key, ['keys:read'], BASE);
    expect(issued.expires_in).toBe(600);
  });

  it('keeps the signing secret in the database, made once and shared by every instance on it', async () => {
    const s = await setup();
    const first = await adminToken(s);
    const other = new AccessTokens(s.w.store, { issuer: BASE, clock: s.w.clock.read });
    const second = (await other.issue((await s.w.callerOf(s.w.tenant.adminSecret)).key, ['admin'], BASE)).access_token;
    expect(decodeProtectedHeader(second).kid).toBe(decodeProtectedHeader(first).kid);
    expect(s.w.count('signing_keys')).toBe(1);
    expect((await other.verify(first, s.w.clock.now)).keyId).toBe(s.w.tenant.adminId);
    // The secret is stored; the tokens it signed are not.
    expect(databaseText(s.w.store)).not.toContain(first);
  });

  it('accepts a token in another process on the same database file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dispersl-oauth-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'db.sqlite');
    const s = await setup({ path });
    const token = await adminToken(s, ['keys:read']);
    const store = new SqliteStore(path);
    cleanups.push(() => store.close());
    const elsewhere = new Gate(store, s.w.clock.read, { accessTokens: new AccessTokens(store, { issuer: BASE, clock: s.w.clock.read }) });
    const admission = await elsewhere.admit(credential(token));
    admission.release();
    expect(admission.caller.key.id).toBe(s.w.tenant.adminId);
  });
});

describe('Gate with access tokens', () => {
  it('admits a token as its key, narrowed to its scopes, and charges the key', async () => {
    const s = await setup();
    const token = await adminToken(s, ['keys:read']);
    const before = (await s.gate.peek(credential(s.w.tenant.adminSecret))).window.remaining;
    const admission = await s.gate.admit(credential(token));
    admission.release();
    expect(admission.caller.key.id).toBe(s.w.tenant.adminId);
    expect(admission.caller.key.permissions).toEqual(['keys:read']);
    expect(admission.caller.window.remaining).toBe(before - 1);
    // The key itself sees the same counter.
    expect((await s.gate.peek(credential(s.w.tenant.adminSecret))).window.remaining).toBe(before - 1);
    expect((await s.gate.peek(credential(token))).window.remaining).toBe(before - 1);
  });

  it('lets a keys:read token list but not generate', async () => {
    const s = await setup();
    const token = await adminToken(s, ['keys:read']);
    const service = new KeyService(s.w.store, s.w.clock.read);
    const caller = await s.gate.peek(credential(token));
    expect((await service.execute('listKeys', caller, {})).keys.length).toBeGreaterThan(0);
    let error: unknown;
    try {
      (await service.execute('generateKey', caller, { name: 'escalate' }));
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ type: 'INSUFFICIENT_PERMISSIONS' });
  });

  it('refuses the token once its key is revoked, though it was verified before', async () => {
    const s = await setup();
    const admin = await s.w.callerOf(s.w.tenant.adminSecret);
    const created = (await s.w.service.execute('generateKey', admin, { name: 'worker', permissions: ['keys:read'] }));
    const caller = await s.w.callerOf(created.secret);
    const token = (await s.tokens.issue(caller.key, ['keys:read'], BASE)).access_token;
    (await s.gate.admit(credential(token))).release();
    (await s.w.service.execute('revokeKey', admin, { id: created.key.id }));
    expect((await rejectionOf(s.gate.admit(credential(token)))).type).toBe('REVOKED_API_KEY');
    expect((await rejectionOf(s.gate.peek(credential(token)))).type).toBe('REVOKED_API_KEY');
  });

  it('refuses the token while its key is disabled, and again accepts it once enabled', async () => {
    const s = await setup();
    const admin = await s.w.callerOf(s.w.tenant.adminSecret);
    const created = (await s.w.service.execute('generateKey', admin, { name: 'worker', permissions: ['keys:read'] }));
    const token = (await s.tokens.issue((await s.w.callerOf(created.secret)).key, ['keys:read'], BASE)).access_token;
    (await s.w.service.execute('updateKey', admin, { id: created.key.id, enabled: false }));
    expect((await rejectionOf(s.gate.admit(credential(token)))).type).toBe('DISABLED_API_KEY');
    (await s.w.service.execute('updateKey', admin, { id: created.key.id, enabled: true }));
    (await s.gate.admit(credential(token))).release();
  });

  it('applies the key IP allowlist to its tokens', async () => {
    const s = await setup();
    const admin = await s.w.callerOf(s.w.tenant.adminSecret);
    const created = (await s.w.service.execute('generateKey', admin, { name: 'office', permissions: ['keys:read'], allowed_ips: ['127.0.0.1'] }));
    const token = (await s.tokens.issue((await s.w.callerOf(created.secret)).key, ['keys:read'], BASE)).access_token;
    expect((await rejectionOf(s.gate.admit(credential(token, { ip: '10.1.2.3' })))).type).toBe('IP_NOT_ALLOWED');
  });

  it('refuses an expired token with INVALID_API_KEY, whether or not it was verified before', async () => {
    const s = await setup();
    const seen = await adminToken(s);
    const unseen = await adminToken(s);
    (await s.gate.admit(credential(seen))).release();
    s.w.clock.advance(TOKEN_LIFETIME_SECONDS * 1000 - 1);
    (await s.gate.admit(credential(seen))).release();
    s.w.clock.advance(1);
    for (const token of [seen, unseen]) {
      const error = await rejectionOf(s.gate.admit(credential(token)));
      expect(error.type).toBe('INVALID_API_KEY');
      expect(error.status).toBe(401);
      expect(error.message).toMatch(/expired/);
    }
  });

  it('refuses a tampered signature, payload or header', async () => {
    const s = await setup();
    const token = await adminToken(s, ['keys:read']);
    (await s.gate.admit(credential(token))).release();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const widened = Buffer.from(JSON.stringify({ ...decodeJwt(token), scope: 'admin' })).toString('base64url');
    const noneAlg = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url');
    for (const bad of [tamper(token), `${header}.${widened}.${signature}`, `${noneAlg}.${payload}.${signature}`, `${header}.${payload}.`]) {
      const error = await rejectionOf(s.gate.admit(credential(bad)));
      expect(error.type).toBe('INVALID_API_KEY');
      expect(JSON.stringify(error.toEnvelope())).not.toContain(bad);
    }
  });

  it('refuses a token for another audience or from another issuer, even signed with its own secret', async () => {
    const s = await setup();
    const foreignAudience = await adminToken(s, ['admin'], 'https://elsewhere.example/mcp');
    expect((await rejectionOf(s.gate.admit(credential(foreignAudience)))).type).toBe('INVALID_API_KEY');
    const elsewhere = new AccessTokens(s.w.store, { issuer: 'http://127.0.0.1:9999', clock: s.w.clock.read });
    const foreignIssuer = (await elsewhere.issue((await s.w.callerOf(s.w.tenant.adminSecret)).key, ['admin'], 'http://127.0.0.1:9999')).access_token;
    expect((await rejectionOf(s.gate.admit(credential(foreignIssuer)))).type).toBe('INVALID_API_KEY');
  });

  it('refuses a JWT signed by anyone else, and a JWT that is not an access token', async () => {
    const s = await setup();
    const kid = decodeProtectedHeader(await adminToken(s)).kid!;
    const claims = { scope: 'admin', sub: s.w.tenant.adminId };
    const now = Math.floor(s.w.clock.now / 1000);
    const sign = (typ: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ, kid })
        .setIssuer(BASE)
        .setAudience(BASE)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .setJti('x')
        .sign(new Uint8Array(32).fill(7));
    for (const forged of [await sign('at+jwt'), await sign('JWT')]) {
      expect((await rejectionOf(s.gate.admit(credential(forged)))).type).toBe('INVALID_API_KEY');
    }
  });

  it('treats a JWT as a malformed key when the gate was given no verifier', async () => {
    const s = await setup();
    const token = await adminToken(s);
    expect((await rejectionOf(s.w.gate.admit(credential(token)))).type).toBe('INVALID_API_KEY');
  });
});

describe('AccessTokens: the lifetime rules', () => {
  /** A token signed with the secret as stored in the database: what someone who read the file can make. */
  async function forge(s: Setup, iat: number, exp: number): Promise<string> {
    const kid = decodeProtectedHeader(await adminToken(s)).kid!;
    const stored = (await s.w.store.listSigningKeys()).find((k) => k.kid === kid)!;
    return new SignJWT({ scope: 'admin', client_id: s.w.tenant.adminId })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .setIssuer(BASE)
      .setAudience(BASE)
      .setSubject(s.w.tenant.adminId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti('forged')
      .sign(Buffer.from(stored.secret, 'base64url'));
  }

  it('refuses a token with the right signature that lives longer than an hour or was issued in the future', async () => {
    const s = await setup();
    const now = Math.floor(s.w.clock.now / 1000);
    const tenYears = 10 * 365 * 86_400;
    const outside = [
      await forge(s, now, now + tenYears),
      await forge(s, now - 10, now + TOKEN_LIFETIME_SECONDS),
      await forge(s, now + 3_600, now + 3_600 + 60),
      await forge(s, now + 61, now + 120),
    ];
    for (const token of outside) {
      const error = await rejectionOf(s.gate.admit(credential(token)));
      expect(error.type).toBe('INVALID_API_KEY');
      // Refused the second time too: nothing was remembered.
      expect((await rejectionOf(s.gate.admit(credential(token)))).type).toBe('INVALID_API_KEY');
    }
    for (const token of [await forge(s, now - 600, now - 600 + TOKEN_LIFETIME_SECONDS), await forge(s, now + 60, now + 120)]) {
      (await s.gate.admit(credential(token))).release();
    }
  });

  it('checks the lifetime rules on every use of a remembered token, not only the first', async () => {
    const s = await setup();
    const token = await adminToken(s);
    (await s.gate.admit(credential(token))).release();
    // Another clock (a process whose clock is behind) sees the same token as issued in the future.
    s.w.clock.now -= 61_000;
    expect((await rejectionOf(s.gate.admit(credential(token)))).type).toBe('INVALID_API_KEY');
  });
});

describe('Signing key rotation', () => {
  it('keeps tokens signed by the previous key valid until they expire, and signs new ones with the new key', async () => {
    const s = await setup();
    const before = await adminToken(s);
    s.w.clock.advance(10 * 60_000);
    const rotated = (await s.tokens.signingKeys.rotate());
    const after = await adminToken(s);
    expect(decodeProtectedHeader(after).kid).toBe(rotated.kid);
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    // A fresh verifier (another process) still accepts the old token, and the new one.
    const fresh = new Gate(s.w.store, s.w.clock.read, { accessTokens: new AccessTokens(s.w.store, { issuer: BASE, clock: s.w.clock.read }) });
    (await fresh.admit(credential(before))).release();
    (await fresh.admit(credential(after))).release();
    s.w.clock.advance(50 * 60_000);
    expect((await rejectionOf(fresh.admit(credential(before)))).type).toBe('INVALID_API_KEY');
    (await fresh.admit(credential(after))).release();
  });

  it('prunes keys retired longer ago than a token lives, and never holds two current keys', async () => {
    const s = await setup();
    (await s.tokens.signingKeys.current());
    (await s.tokens.signingKeys.rotate());
    expect(s.w.count('signing_keys')).toBe(2);
    s.w.clock.advance(HOUR_MS + 1);
    (await s.tokens.signingKeys.rotate());
    expect(s.w.count('signing_keys')).toBe(2);
    const current = (await s.w.store.listSigningKeys()).filter((k) => k.retired_at === null);
    expect(current).toHaveLength(1);
  });

  it('rotates by itself once the signing key is older than its maximum age', async () => {
    const s = await setup();
    const tokens = new AccessTokens(s.w.store, { issuer: BASE, clock: s.w.clock.read, signingKeyMaxAgeMs: 24 * HOUR_MS });
    const caller = await s.w.callerOf(s.w.tenant.adminSecret);
    const first = decodeProtectedHeader((await tokens.issue(caller.key, ['admin'], BASE)).access_token).kid;
    s.w.clock.advance(24 * HOUR_MS);
    const second = decodeProtectedHeader((await tokens.issue(caller.key, ['admin'], BASE)).access_token).kid;
    expect(second).not.toBe(first);
  });
});

describe('audienceFor', () => {
  it('accepts this server and paths on it, and nothing else', async () => {
    const s = await setup({ issuer: `${BASE}/` });
    expect(s.tokens.audienceFor(undefined)).toBe(BASE);
    expect(s.tokens.audienceFor(`${BASE}/`)).toBe(BASE);
    expect(s.tokens.audienceFor(`${BASE}/mcp`)).toBe(`${BASE}/mcp`);
    for (const bad of ['http://127.0.0.1:87870/mcp', 'https://127.0.0.1:8787/mcp', `${BASE}/mcp#x`, `${BASE}/mcp?x=1`, `${BASE}/ot/pk_live_x`, 'not a url']) {
      expect(s.tokens.audienceFor(bad), bad).toBeUndefined();
    }
  });
});
