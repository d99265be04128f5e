import type { RevealRecord, SigningKeyRecord } from '../../core/store.js';
import { type Queryable, changed, first, rows } from './query.js';

/** What every process shares to sign and seal: OAuth signing keys, named server secrets, used requestStates. */

export function listSigningKeys(q: Queryable): Promise<SigningKeyRecord[]> {
  return rows<SigningKeyRecord>(q, 'SELECT kid, alg, secret, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC');
}

export async function insertSigningKey(q: Queryable, key: SigningKeyRecord): Promise<void> {
  await q.query('INSERT INTO signing_keys (kid, alg, secret, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)', [
    key.kid, key.alg, key.secret, key.created_at, key.retired_at,
  ]);
}

export async function retireSigningKey(q: Queryable, kid: string, at: number): Promise<boolean> {
  return (await changed(q, 'UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL', [kid, at])) === 1;
}

export async function replaceSigningKeySecret(q: Queryable, kid: string, from: string, to: string): Promise<boolean> {
  return (await changed(q, 'UPDATE signing_keys SET secret = $3 WHERE kid = $1 AND secret = $2', [kid, from, to])) === 1;
}

export function pruneSigningKeys(q: Queryable, before: number): Promise<number> {
  return changed(q, 'DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1', [before]);
}

export async function serverSecret(q: Queryable, name: string, make: () => string, at: number): Promise<string> {
  // The first process to ask creates it; every later one, in any process, reads the same value. The
  // read is its own statement: one started before a racing insert committed would not see its row.
  await q.query('INSERT INTO server_secrets (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [name, make(), at]);
  const row = await first<{ secret: string }>(q, 'SELECT secret FROM server_secrets WHERE name = $1', [name]);
  if (row === undefined) throw new Error(`server secret ${name} is missing after it was created`);
  return row.secret;
}

export async function useRequestState(q: Queryable, nonce: string, expiresAt: number, now: number): Promise<boolean> {
  await q.query('DELETE FROM used_request_states WHERE expires_at <= $1', [now]);
  return (await changed(q, 'INSERT INTO used_request_states (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING', [nonce, expiresAt])) === 1;
}

export async function insertReveal(q: Queryable, reveal: RevealRecord): Promise<void> {
  // One statement for both: expired reveals go as a new one comes.
  await q.query(
    'WITH gone AS (DELETE FROM reveals WHERE expires_at <= $4) INSERT INTO reveals (id, sealed, expires_at, created_at) VALUES ($1, $2, $3, $4)',
    [reveal.id, reveal.sealed, reveal.expires_at, reveal.created_at],
  );
}

export async function takeReveal(q: Queryable, id: string, now: number): Promise<RevealRecord | undefined> {
  // One statement deletes and answers it, so two processes racing for one code cannot both get it.
  const row = await first<RevealRecord>(q, 'DELETE FROM reveals WHERE id = $1 RETURNING id, sealed, expires_at, created_at', [id]);
  await q.query('DELETE FROM reveals WHERE expires_at <= $1', [now]);
  return row !== undefined && row.expires_at > now ? row : undefined;
}

export async function hasReveal(q: Queryable, id: string, now: number): Promise<boolean> {
  return (await first(q, 'SELECT 1 FROM reveals WHERE id = $1 AND expires_at > $2', [id, now])) !== undefined;
}
