import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { RandomSource } from '../core/tokens.js';

/**
 * Signing secrets at rest: AES-256-GCM under the operator's DISPERSL_SECRET_KEY, bound to the
 * signing key's id (as additional data, so a sealed secret cannot be moved to another row). A sealed
 * value is `aes256gcm.<iv>.<ciphertext>.<tag>` (base64url parts); a plain one is the bare base64url
 * secret, which never holds a dot, so the two cannot be confused.
 */
const PREFIX = 'aes256gcm.';
const IV_BYTES = 12;

/** The signing secrets cannot be read: the key is missing or is not the one they were sealed with. Never a silent failure. */
export class SigningSecretError extends Error {}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

function aad(kid: string): Buffer {
  return Buffer.from(`dispersl signing key ${kid}`);
}

export function sealSecret(secret: Buffer, key: Buffer, kid: string, random: RandomSource = randomBytes): string {
  const iv = random(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad(kid));
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
  return `${PREFIX}${[iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url')).join('.')}`;
}

/** The secret of a stored value, sealed or plain. */
export function openSecret(stored: string, key: Buffer | undefined, kid: string): Buffer {
  if (!isSealed(stored)) return Buffer.from(stored, 'base64url');
  if (key === undefined) {
    throw new SigningSecretError('the OAuth signing secrets in the database are encrypted: set DISPERSL_SECRET_KEY to the key they were encrypted with');
  }
  const [iv, ciphertext, tag] = stored.slice(PREFIX.length).split('.').map((part) => Buffer.from(part, 'base64url'));
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv!).setAAD(aad(kid)).setAuthTag(tag!);
    return Buffer.concat([decipher.update(ciphertext!), decipher.final()]);
  } catch {
    throw new SigningSecretError(
      'DISPERSL_SECRET_KEY does not decrypt the OAuth signing secrets in the database: it is not the key they were encrypted with',
    );
  }
}
