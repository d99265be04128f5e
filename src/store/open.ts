import type { KeyStore } from '../core/store.js';

/**
 * The store a DISPERSL_DB value names. A path (or `:memory:`) is a SQLite file; each backend is
 * loaded only when chosen, so a process pays for no driver it does not use.
 */
export async function openStore(location: string): Promise<KeyStore> {
  const { SqliteStore } = await import('./sqlite.js');
  return new SqliteStore(location);
}
