import { createHash, randomBytes } from 'node:crypto';

/**
 * A token is `pk_<environment>_<32 base62 chars of randomness><6 base62 chars of CRC32>`.
 * 32 base62 characters carry about 190 bits; the checksum lets a mistyped or truncated
 * key be refused before any database lookup, and lets secret scanners recognise a real one.
 */
export type Environment = 'live' | 'test';

export type RandomSource = (size: number) => Buffer;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const START_LENGTH = 4;
const TOKEN_PATTERN = new RegExp(`^pk_(live|test)_([0-9A-Za-z]{${BODY_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`);

/** Uniform base62 characters by rejection sampling (bytes >= 248 would bias the modulo). */
export function randomBase62(length: number, random: RandomSource = randomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const byte of random(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function checksum(payload: string): string {
  let n = crc32(payload);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export interface IssuedToken {
  token: string;
  hash: string;
  start: string;
}

export function generateToken(environment: Environment, random: RandomSource = randomBytes): IssuedToken {
  const payload = `pk_${environment}_${randomBase62(BODY_LENGTH, random)}`;
  const token = payload + checksum(payload);
  return { token, hash: hashToken(token), start: tokenStart(token) };
}

/** The environment of a well-formed token whose checksum holds, or undefined. */
export function parseToken(token: string): Environment | undefined {
  const match = TOKEN_PATTERN.exec(token);
  if (!match) return undefined;
  const payload = token.slice(0, token.length - CHECKSUM_LENGTH);
  return checksum(payload) === match[3] ? (match[1] as Environment) : undefined;
}

/** Tokens carry ~190 random bits, so one SHA-256 is enough; a slow KDF would add nothing but latency. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** What lists and logs show of a token: its prefix and a few characters. */
export function tokenStart(token: string): string {
  const prefix = token.startsWith('pk_test_') ? 'pk_test_' : 'pk_live_';
  return token.slice(0, prefix.length + START_LENGTH);
}

export function publicId(prefix: 'key' | 'org', random: RandomSource = randomBytes): string {
  return `${prefix}_${randomBase62(20, random)}`;
}
