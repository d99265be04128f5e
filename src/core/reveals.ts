import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { SealSecret } from './service.js';
import type { RevealRecord, StoreOps } from './store.js';
import { type RandomSource, randomBase62 } from './tokens.js';

/**
 * Secret delivery by reveal: a new key's secret waits, sealed, to be shown once to the human (a web
 * page or a terminal), so it never enters a model's context, a provider's logs or a transcript.
 *
 * The one-time code is 22 random base62 characters (over 128 bits). The database holds only a hash of it (to find the record)
 * and the secret sealed with AES-256-GCM under a key derived from the code by HKDF: whoever reads the
 * database, its WAL or a backup cannot open it without the code. Taking a reveal deletes it, in one
 * statement; an unshown one is deleted once expired.
 */

export const REVEAL_TTL_MS = 10 * 60_000;
/** 22 base62 characters (about 131 bits); no '-' or '_', so a code never reads as a command-line option. */
const CODE = /^[A-Za-z0-9]{22}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type RevealStore = Pick<StoreOps, 'insertReveal' | 'takeReveal' | 'hasReveal'>;

export interface Deposited {
  code: string;
  expires_at: number;
}

/** A secret sealed for one reveal: the record to store, and the code that opens it (never stored). */
export interface Sealed extends Deposited {
  record: RevealRecord;
}

/** The record's id: a hash of the code, never the code. */
function idOf(code: string): string {
  return createHash('sha256').update(`dispersl-reveal-id\n${code}`).digest('base64url');
}

function keyOf(code: string): Buffer {
  return Buffer.from(hkdfSync('sha256', code, 'dispersl-reveal', 'secret-v1', 32));
}

/** Whether a string has the shape of a reveal code (checked before any lookup). */
export function isRevealCode(code: string): boolean {
  return CODE.test(code);
}

export class Reveals {
  constructor(
    private readonly store: RevealStore,
    private readonly clock: () => number = Date.now,
    private readonly random: RandomSource = randomBytes,
    readonly ttlMs: number = REVEAL_TTL_MS,
  ) {}

  /** Seals a secret, storing nothing: the caller stores the record (a new key's, in the transaction that creates the key). */
  seal(secret: string): Sealed {
    const code = randomBase62(22, this.random);
    const id = idOf(code);
    const iv = this.random(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', keyOf(code), iv);
    cipher.setAAD(Buffer.from(id));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    const now = this.clock();
    const record: RevealRecord = { id, sealed: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url'), expires_at: now + this.ttlMs, created_at: now };
    return { record, code, expires_at: record.expires_at };
  }

  /**
   * Runs a call that makes a key (given the sealer, it stores the sealed secret in the key's own
   * transaction): its result, and the code and expiry of the reveal that shows the secret once.
   */
  async issue<T>(call: (seal: SealSecret) => Promise<T>): Promise<{ result: T } & Deposited> {
    let sealed: Sealed | undefined;
    const result = await call((secret) => (sealed = this.seal(secret)).record);
    if (sealed === undefined) throw new Error('the call made no secret to reveal');
    return { result, code: sealed.code, expires_at: sealed.expires_at };
  }

  /** Seals and stores a secret on its own: remote mode's deposit of a key its server has already made. */
  async deposit(secret: string): Promise<Deposited> {
    const { record, code, expires_at } = this.seal(secret);
    await this.store.insertReveal(record);
    return { code, expires_at };
  }

  /** Whether the code still shows a secret; shows nothing and uses nothing. */
  async waiting(code: string): Promise<boolean> {
    return isRevealCode(code) && this.store.hasReveal(idOf(code), this.clock());
  }

  /** The secret, this once; undefined for a code unknown, used or expired. */
  async take(code: string): Promise<string | undefined> {
    if (!isRevealCode(code)) return undefined;
    const id = idOf(code);
    const record = await this.store.takeReveal(id, this.clock());
    if (record === undefined) return undefined;
    const raw = Buffer.from(record.sealed, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', keyOf(code), raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
