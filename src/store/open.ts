import type { KeyStore } from '../core/store.js';

/** Whether a DISPERSL_DB value names a PostgreSQL database (a URL) rather than a SQLite file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** A DISPERSL_DB value fit for logs and printed text: a URL's password is never shown. */
export function describeLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const url = new URL(location);
    if (url.password !== '') url.password = '***';
    return url.href;
  } catch {
    return 'postgres://…';
  }
}

/**
 * The store a DISPERSL_DB value names. A postgres:// or postgresql:// URL is a PostgreSQL database;
 * a path (or `:memory:`) is a SQLite file. Each backend is loaded only when chosen, so a process
 * pays for no driver it does not use (the stdio cold start never loads pg).
 */
export async function openStore(location: string): Promise<KeyStore> {
  if (isPostgresUrl(location)) {
    const { PostgresStore } = await import('./postgres.js');
    return PostgresStore.open(location);
  }
  const { SqliteStore } = await import('./sqlite.js');
  return new SqliteStore(location);
}
