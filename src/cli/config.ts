import { homedir } from 'node:os';
import { join } from 'node:path';
import type { LogLevel } from '../core/log.js';
import { type SecretDelivery, SECRET_DELIVERIES } from '../mcp/deliver.js';
import { CONFIRM_POLICIES, type ConfirmPolicy } from '../mcp/protocol.js';
import { BaseUrlError, parseBaseUrl } from '../remote/base-url.js';
import { PublicUrlError, parsePublicUrl } from '../oauth/public-url.js';
import { isIpOrCidr } from '../core/ip.js';

/** Everything the process reads from its environment, in one place. */
export interface Config {
  apiKey: string | undefined;
  /** Remote mode's REST base, normalised (see src/remote/base-url.ts). */
  baseUrl: string | undefined;
  /** Remote mode: how long one REST call may take, start to last byte. */
  timeoutMs: number;
  dbPath: string;
  /** DISPERSL_DB was given: client configs printed for stdio must carry it. */
  dbFromEnv: boolean;
  /** serve: the origin clients reach it at (DISPERSL_PUBLIC_URL); the OAuth issuer. Default: http://<host>:<port>. */
  publicUrl?: string | undefined;
  /** serve: DISPERSL_SECRET_KEY, 32 bytes that encrypt the OAuth signing secrets at rest; undefined keeps them plain. */
  secretKey?: Buffer | undefined;
  readOnly: boolean;
  host: string;
  port: number;
  /** serve: open connections one client address may hold at once. */
  maxConnections: number;
  logLevel: LogLevel;
  /** --confirm / DISPERSL_CONFIRM: asking the human before revoke, rotate and disable (MCP only). */
  confirm: ConfirmPolicy;
  /** --secret-delivery / DISPERSL_SECRET_DELIVERY: new secrets in MCP results, or by a one-time reveal. */
  secretDelivery: SecretDelivery;
  /** How many days of hourly usage buckets are kept (DISPERSL_USAGE_DAYS, default 90). */
  usageDays: number;
  /** serve: DISPERSL_TRUSTED_PROXIES, the proxies whose X-Forwarded-For names the client. */
  trustedProxies: string[];
}

export class UsageError extends Error {}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export function parsePort(value: string, source: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) throw new UsageError(`${source} must be a port number from 0 to 65535, got '${value}'`);
  return port;
}

function baseUrl(value: string | undefined): string | undefined {
  if (!value?.trim()) return undefined;
  try {
    return parseBaseUrl(value).href;
  } catch (err) {
    if (err instanceof BaseUrlError) throw new UsageError(err.message);
    throw err;
  }
}

function publicUrl(value: string | undefined): string | undefined {
  if (!value?.trim()) return undefined;
  try {
    return parsePublicUrl(value);
  } catch (err) {
    if (err instanceof PublicUrlError) throw new UsageError(err.message);
    throw err;
  }
}

function timeoutMs(value: string | undefined): number {
  if (!value?.trim()) return 10_000;
  const ms = /^\d{1,7}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(ms >= 100 && ms <= 600_000)) throw new UsageError(`DISPERSL_TIMEOUT_MS must be milliseconds from 100 to 600000, got '${value}'`);
  return ms;
}

/** serve's per-address cap on open connections (--max-connections, DISPERSL_MAX_CONNECTIONS). */
export function parseMaxConnections(value: string, source: string): number {
  const n = /^\d{1,7}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(n >= 1 && n <= 1_000_000)) throw new UsageError(`${source} must be a whole number from 1 to 1000000, got '${value}'`);
  return n;
}

/** 32 bytes in base64 (or base64url), as `openssl rand -base64 32` prints them. The value is never echoed. */
function secretKey(value: string | undefined): Buffer | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (bytes === undefined || bytes.length !== 32) {
    const got = bytes === undefined ? 'it is not base64' : `it decodes to ${bytes.length} bytes`;
    throw new UsageError(`DISPERSL_SECRET_KEY must be 32 bytes in base64, as printed by 'openssl rand -base64 32' (${got})`);
  }
  return bytes;
}

/** Where a client on this machine reaches a server bound to host:port (a wildcard bind is reached on loopback). */
export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** One of a closed set of words, from a flag or the environment. */
export function oneOf<T extends string>(value: string, allowed: readonly T[], source: string): T {
  const word = value.trim();
  if (!(allowed as readonly string[]).includes(word)) throw new UsageError(`${source} must be one of ${allowed.join(', ')}, got '${value}'`);
  return word as T;
}

function usageDays(value: string | undefined): number {
  if (!value?.trim()) return 90;
  const days = /^\d{1,4}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(days >= 1 && days <= 3650)) throw new UsageError(`DISPERSL_USAGE_DAYS must be a number of days from 1 to 3650, got '${value}'`);
  return days;
}

function trustedProxies(value: string | undefined): string[] {
  const entries = (value ?? '').split(/[\s,]+/).filter((entry) => entry !== '');
  const wrong = entries.find((entry) => !isIpOrCidr(entry));
  if (wrong !== undefined) throw new UsageError(`DISPERSL_TRUSTED_PROXIES must list IP addresses or CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1), got '${wrong}'`);
  return entries;
}

function flag(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

export function configFromEnv(env: NodeJS.ProcessEnv): Config {
  const logLevel = (env.DISPERSL_LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`DISPERSL_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  return {
    apiKey: env.DISPERSL_API_KEY?.trim() || undefined,
    baseUrl: baseUrl(env.DISPERSL_BASE_URL),
    timeoutMs: timeoutMs(env.DISPERSL_TIMEOUT_MS),
    dbPath: env.DISPERSL_DB?.trim() || join(homedir(), '.dispersl', 'dispersl.db'),
    dbFromEnv: Boolean(env.DISPERSL_DB?.trim()),
    publicUrl: publicUrl(env.DISPERSL_PUBLIC_URL),
    secretKey: secretKey(env.DISPERSL_SECRET_KEY),
    readOnly: flag(env.DISPERSL_READ_ONLY),
    host: env.DISPERSL_HOST?.trim() || '127.0.0.1',
    port: env.DISPERSL_PORT ? parsePort(env.DISPERSL_PORT.trim(), 'DISPERSL_PORT') : 8787,
    maxConnections: env.DISPERSL_MAX_CONNECTIONS?.trim() ? parseMaxConnections(env.DISPERSL_MAX_CONNECTIONS, 'DISPERSL_MAX_CONNECTIONS') : 256,
    logLevel,
    confirm: env.DISPERSL_CONFIRM?.trim() ? oneOf(env.DISPERSL_CONFIRM, CONFIRM_POLICIES, 'DISPERSL_CONFIRM') : 'auto',
    secretDelivery: env.DISPERSL_SECRET_DELIVERY?.trim() ? oneOf(env.DISPERSL_SECRET_DELIVERY, SECRET_DELIVERIES, 'DISPERSL_SECRET_DELIVERY') : 'inline',
    usageDays: usageDays(env.DISPERSL_USAGE_DAYS),
    trustedProxies: trustedProxies(env.DISPERSL_TRUSTED_PROXIES),
  };
}
