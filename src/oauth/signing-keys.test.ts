import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Gate } from '../core/auth.js';
import { SqliteStore } from '../store/sqlite.js';
import { type World, createWorld, credential, databaseText } from '../testing/fixtures.js';
import { AccessTokens } from './access-tokens.js';

/** The secrets that sign access tokens, at rest: encrypted with DISPERSL_SECRET_KEY when the operator gives one. */

const BASE = 'http://127.0.0.1:8787';
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

/** A world on a database file, so other "processes" (stores) can open it too. */
async function fileWorld(): Promise<{ w: World; path: string; open(): SqliteStore }> {
  const dir = mkdtempSync(join(tmpdir(), 'dispersl-signing-'));
  const path = join(dir, 'dispersl.db');
  const w = await createWorld({ path });
  const stores = [w.store];
  cleanups.push(() => {
    for (const store of stores) void store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    w,
    path,
    open() {
      const store = new SqliteStore(path);
      stores.push(store);
      return store;
    },
  };
}

function tokensOn(w: World, store: SqliteStore, encryptionKey?: Buffer): { tokens: AccessTokens; gate: Gate } {
  const tokens = new AccessTokens(store, { issuer: BASE, clock: w.clock.read, encryptionKey });
  return { tokens, gate: new Gate(store, w.clock.read, { accessTokens: tokens }) };
}

async function issue(w: World, tokens: AccessTokens): Promise<string> {
  return (await tokens.issue((await w.callerOf(w.tenant.adminSecret)).key, ['admin'], BASE)).access_token;
}

/** The raw secret bytes a signing key holds, read the way the server reads them. */
async function secretBytes(tokens: AccessTokens, kid: string, now: number): Promise<Buffer> {
  return (await tokens.signingKeys.forVerifying(kid, now))!.secret.export();
}

describe('signing secrets at rest', () => {
  it('are stored encrypted with the operator key, and every process holding that key verifies the tokens', async () => {
    const { w, open } = await fileWorld();
    const key = randomBytes(32);
    const here = tokensOn(w, w.store, key);
    await here.tokens.signingKeys.prepare();
    const token = await issue(w, here.tokens);
    const [record] = await w.store.listSigningKeys();
    expect(record!.secret).toMatch(/^aes256gcm\./);
    const secret = await secretBytes(here.tokens, record!.kid, w.clock.now);
    const text = databaseText(w.store);
    expect(text).not.toContain(secret.toString('base64url'));
    expect(text).not.toContain(secret.toString('base64'));
    expect(text).not.toContain(secret.toString('hex'));
    const elsewhere = tokensOn(w, open(), key);
    await elsewhere.tokens.signingKeys.prepare();
    (await elsewhere.gate.admit(credential(token))).release();
  });

  it('seals the plain secrets of an existing database at start-up, and the tokens they signed stay valid', async () => {
    const { w, open } = await fileWorld();
    const before = tokensOn(w, w.store);
    const token = await issue(w, before.tokens);
    const [plain] = await w.store.listSigningKeys();
    expect(plain!.secret).not.toMatch(/^aes256gcm\./);
    const key = randomBytes(32);
    const after = tokensOn(w, open(), key);
    await after.tokens.signingKeys.prepare();
    const [sealed] = await w.store.listSigningKeys();
    expect(sealed).toMatchObject({ kid: plain!.kid, created_at: plain!.created_at });
    expect(sealed!.secret).toMatch(/^aes256gcm\./);
    expect(databaseText(w.store)).not.toContain(plain!.secret);
    (await after.gate.admit(credential(token))).release();
    expect((await after.tokens.issue((await w.callerOf(w.tenant.adminSecret)).key, ['admin'], BASE)).access_token).toBeTruthy();
  });

  it('fails clearly, never silently, with a wrong key or none: at start-up, on issuing and on verifying', async () => {
    const { w, open } = await fileWorld();
    const sealedWith = tokensOn(w, w.store, randomBytes(32));
    const token = await issue(w, sealedWith.tokens);
    for (const [label, key, pattern] of [
      ['wrong key', randomBytes(32), /DISPERSL_SECRET_KEY does not decrypt/],
      ['no key', undefined, /encrypted: set DISPERSL_SECRET_KEY/],
    ] as const) {
      const other = tokensOn(w, open(), key);
      await expect(other.tokens.signingKeys.prepare(), label).rejects.toThrow(pattern);
      await expect(issue(w, other.tokens), label).rejects.toThrow(pattern);
      await expect(other.gate.admit(credential(token)), label).rejects.toThrow(pattern);
    }
    // Nothing was rewritten by the failed attempts.
    (await sealedWith.gate.admit(credential(token))).release();
  });
});
